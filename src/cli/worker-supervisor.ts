import { spawn, type ChildProcess } from 'node:child_process';
import type { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { prettyFactory } from 'pino-pretty';
import { ExitCode } from '../config/errors';
import { cliEntryFile } from '../package-root';
import { WORKER_READY_MESSAGE } from './worker-ready';

export { WORKER_READY_MESSAGE };

/**
 * `pokequeue worker --processes N`: N worker processes on one machine under one supervisor.
 *
 * Each child is a whole `pokequeue worker` (its own Redis connections, event loop and pid, so
 * `status` and `/stats` list it by host and pid like a worker on another machine). The supervisor
 * holds no connection of its own: it starts the children, prefixes their output, restarts one
 * that crashes and stops them all on a signal.
 */

/** Restart and shutdown policy, defaults in one place. */
export const supervisorDefaults = {
  /** First restart delay after a crash; doubles with each crash inside the crash window. */
  restartDelayMs: 1000,
  /** Restart delays stop doubling here. */
  maxRestartDelayMs: 30_000,
  /** This many crashes of one child within `crashWindowMs` is a crash loop: give up. */
  maxCrashes: 5,
  crashWindowMs: 60_000,
  /** After SIGINT/SIGTERM, children get SHUTDOWN_TIMEOUT_MS plus this long before SIGKILL. */
  killGraceMs: 10_000,
  /** After a second signal, children get this long to exit before SIGKILL. */
  forcedKillMs: 3000,
} as const;

export interface WorkerSupervisorOptions {
  /** Worker processes to keep running. */
  readonly processes: number;
  /**
   * The program each child runs. Arguments go after the file.
   * @defaultValue this CLI's `worker` command: the file package.json's `bin` names, with `worker ...args`
   */
  readonly file?: string;
  /** Arguments for each child, e.g. `['--concurrency', '5']` (after `worker` for the default file). */
  readonly args?: readonly string[];
  /** @defaultValue process.env */
  readonly env?: NodeJS.ProcessEnv;
  /** How long children may take to finish jobs in flight after SIGTERM (SHUTDOWN_TIMEOUT_MS). */
  readonly shutdownTimeoutMs: number;
  /** @defaultValue {@link supervisorDefaults}.restartDelayMs */
  readonly restartDelayMs?: number;
  /** @defaultValue {@link supervisorDefaults}.maxRestartDelayMs */
  readonly maxRestartDelayMs?: number;
  /** @defaultValue {@link supervisorDefaults}.maxCrashes */
  readonly maxCrashes?: number;
  /** @defaultValue {@link supervisorDefaults}.crashWindowMs */
  readonly crashWindowMs?: number;
  readonly log: Logger;
  /** Where children's stdout and stderr go, prefixed. @defaultValue process.stdout / process.stderr */
  readonly stdout?: Writable;
  readonly stderr?: Writable;
  /**
   * Render children's JSON log lines for a human (pino-pretty).
   * @defaultValue whether `stderr` is a TTY
   */
  readonly pretty?: boolean;
}

/** One place a child runs in; a restarted child takes the same slot (and number). */
interface Slot {
  n: number;
  child?: ChildProcess;
  /** From spawn until the child's 'close' (exited and its output read to the end). */
  running: boolean;
  /** Times of recent crashes, to tell a crash loop from a crash now and then. */
  crashes: number[];
  restartTimer?: NodeJS.Timeout;
  everReady: boolean;
}

export class WorkerSupervisor {
  private readonly slots: Slot[];
  private readonly o: Required<Omit<WorkerSupervisorOptions, 'file' | 'pretty'>> & { file: string; pretty: boolean };
  private readonly render?: (obj: unknown) => string;
  private stopping: 'no' | 'graceful' | 'forced' = 'no';
  private exitCode: number = ExitCode.ok;
  private allReadyLogged = false;
  private killTimer?: NodeJS.Timeout;
  private finish!: (code: number) => void;
  /** Resolves with the supervisor's exit code once every child has exited after a stop. */
  readonly done: Promise<number>;

  constructor(opts: WorkerSupervisorOptions) {
    if (!Number.isInteger(opts.processes) || opts.processes < 1) {
      throw new RangeError(`processes must be a whole number of at least 1 (got ${opts.processes})`);
    }
    const usesCli = opts.file === undefined;
    this.o = {
      processes: opts.processes,
      file: opts.file ?? cliEntryFile(),
      args: usesCli ? ['worker', ...(opts.args ?? [])] : [...(opts.args ?? [])],
      env: opts.env ?? process.env,
      shutdownTimeoutMs: opts.shutdownTimeoutMs,
      restartDelayMs: opts.restartDelayMs ?? supervisorDefaults.restartDelayMs,
      maxRestartDelayMs: opts.maxRestartDelayMs ?? supervisorDefaults.maxRestartDelayMs,
      maxCrashes: opts.maxCrashes ?? supervisorDefaults.maxCrashes,
      crashWindowMs: opts.crashWindowMs ?? supervisorDefaults.crashWindowMs,
      log: opts.log,
      stdout: opts.stdout ?? process.stdout,
      stderr: opts.stderr ?? process.stderr,
      pretty: opts.pretty ?? ((opts.stderr ?? process.stderr) as Writable & { isTTY?: boolean }).isTTY === true,
    };
    if (this.o.pretty) {
      this.render = prettyFactory({ colorize: true, ignore: 'hostname,process', translateTime: 'HH:MM:ss.l', messageKey: 'msg' });
    }
    this.slots = Array.from({ length: opts.processes }, (_, i) => ({ n: i + 1, running: false, crashes: [], everReady: false }));
    this.done = new Promise<number>((r) => (this.finish = r));
  }

  /** Pids of the children running now, by slot number (1-based). */
  pids(): Map<number, number> {
    const out = new Map<number, number>();
    for (const s of this.slots) if (s.running && s.child?.pid !== undefined) out.set(s.n, s.child.pid);
    return out;
  }

  start(): void {
    this.o.log.info(`supervisor ${process.pid}: starting ${this.o.processes} worker processes`);
    for (const slot of this.slots) this.spawn(slot);
  }

  /**
   * First call: every child stops taking jobs and finishes those in flight (SIGTERM/SIGINT
   * forwarded once), then the supervisor exits 0. A second call forwards the signal again, which
   * makes each child exit at once (their jobs go back to the queue as stalled), and exits 130.
   */
  stop(signal: NodeJS.Signals = 'SIGTERM'): void {
    if (this.stopping === 'forced') return;
    const first = this.stopping === 'no';
    this.stopping = first ? 'graceful' : 'forced';
    if (!first) this.exitCode = 130;
    for (const slot of this.slots) {
      if (slot.restartTimer) clearTimeout(slot.restartTimer);
      slot.restartTimer = undefined;
    }
    const live = this.live();
    if (first) {
      this.o.log.info(
        `${signal}: stopping ${live.length} worker processes; they finish jobs in flight (up to ${this.o.shutdownTimeoutMs} ms; ${signal} again to force)`,
      );
    } else {
      this.o.log.warn(`${signal} again: worker processes exit now, jobs in flight will be retried by another worker`);
    }
    for (const slot of live) slot.child!.kill(signal);
    // A child whose event loop is stuck never acts on a signal: the deadline is the supervisor's.
    if (this.killTimer) clearTimeout(this.killTimer);
    const deadline = first ? this.o.shutdownTimeoutMs + supervisorDefaults.killGraceMs : supervisorDefaults.forcedKillMs;
    this.killTimer = setTimeout(() => {
      for (const slot of this.live()) {
        this.o.log.error(`worker process ${slot.n} (pid ${slot.child!.pid}) did not exit ${deadline} ms after ${signal}: killing it`);
        slot.child!.kill('SIGKILL');
      }
    }, deadline);
    this.killTimer.unref();
    this.finishIfAllExited();
  }

  private live(): Slot[] {
    return this.slots.filter((s) => s.running);
  }

  private spawn(slot: Slot): void {
    // detached: a child gets its own process group, so a Ctrl-C at the terminal reaches only the
    // supervisor, which forwards it once; a child signalled twice would take it as "force".
    const child = spawn(process.execPath, [this.o.file, ...this.o.args], {
      env: this.o.env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
      detached: true,
    });
    slot.child = child;
    slot.running = true;
    const restarted = slot.crashes.length > 0;
    this.o.log.info(`worker process ${slot.n}: ${restarted ? 'restarted' : 'started'} as pid ${child.pid}`);
    this.pipeLines(child.stdout!, this.o.stdout, slot.n);
    this.pipeLines(child.stderr!, this.o.stderr, slot.n);
    child.on('message', (msg: unknown) => {
      if ((msg as { type?: string } | null)?.type !== WORKER_READY_MESSAGE) return;
      if (slot.everReady) this.o.log.info(`worker process ${slot.n} (pid ${child.pid}) ready again`);
      slot.everReady = true;
      if (!this.allReadyLogged && this.slots.every((s) => s.everReady)) {
        this.allReadyLogged = true;
        this.o.log.info(`all ${this.o.processes} worker processes ready: pids ${[...this.pids().values()].join(', ')}`);
      }
    });
    child.on('error', (err) => {
      this.o.log.error({ err: err.message }, `worker process ${slot.n}: ${child.pid === undefined ? 'could not start' : 'error'}`);
      // A child that never started may never emit 'close': count it as a crash here.
      if (child.pid === undefined) this.onExit(slot, child, null, null);
    });
    // 'close' rather than 'exit': the child's last lines (why it crashed) are written out first.
    child.on('close', (code, signal) => this.onExit(slot, child, code, signal));
  }

  private onExit(slot: Slot, child: ChildProcess, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.child !== child || !slot.running) return;
    slot.running = false;
    const how = signal ? `killed by ${signal}` : code === null ? 'did not start' : `exit code ${code}`;
    if (this.stopping !== 'no') {
      const clean = code === ExitCode.ok;
      if (!clean && this.exitCode === ExitCode.ok) this.exitCode = ExitCode.failure;
      this.o.log[clean ? 'info' : 'warn'](`worker process ${slot.n} (pid ${child.pid}) stopped (${how})`);
      this.finishIfAllExited();
      return;
    }
    if (code === ExitCode.usage) {
      // A bad flag or variable: every restart would fail the same way.
      this.giveUp(slot, `exited with code 2 (bad configuration or command line; see its message above)`);
      return;
    }
    const now = Date.now();
    slot.crashes = [...slot.crashes.filter((t) => now - t < this.o.crashWindowMs), now];
    if (slot.crashes.length >= this.o.maxCrashes) {
      this.giveUp(slot, `crashed ${slot.crashes.length} times in ${Math.round(this.o.crashWindowMs / 1000)} s (last: ${how})`);
      return;
    }
    const delay = Math.min(this.o.restartDelayMs * 2 ** (slot.crashes.length - 1), this.o.maxRestartDelayMs);
    // Exit 0 unasked (someone signalled the child itself) is restarted too: N processes were asked for.
    this.o.log.warn(`worker process ${slot.n} (pid ${child.pid}) ${code === 0 ? 'exited' : 'crashed'} (${how}); restarting in ${delay} ms`);
    slot.restartTimer = setTimeout(() => {
      slot.restartTimer = undefined;
      if (this.stopping === 'no') this.spawn(slot);
    }, delay);
  }

  private giveUp(slot: Slot, why: string): void {
    this.o.log.error(
      `worker process ${slot.n} ${why}: giving up, stopping the other worker processes. ` +
        'Fix the cause shown in its log, then start `pokequeue worker` again.',
    );
    this.exitCode = ExitCode.failure;
    this.stop('SIGTERM');
  }

  private finishIfAllExited(): void {
    if (this.stopping === 'no' || this.live().length > 0) return;
    if (this.killTimer) clearTimeout(this.killTimer);
    if (this.exitCode === ExitCode.ok) this.o.log.info('all worker processes stopped cleanly');
    this.finish(this.exitCode);
  }

  /** Copies a child's stream line by line, each line tagged with the child's number. */
  private pipeLines(from: NodeJS.ReadableStream, to: Writable, n: number): void {
    let pending = '';
    from.setEncoding('utf8');
    from.on('data', (chunk: string) => {
      pending += chunk;
      const lines = pending.split('\n');
      pending = lines.pop()!;
      for (const line of lines) to.write(this.tag(line, n));
    });
    from.on('end', () => {
      if (pending) to.write(this.tag(pending, n));
      pending = '';
    });
  }

  /**
   * A JSON log line stays one JSON object, with `"process": n` added, so log shippers keep
   * parsing it; any other line gets a `[process n]` prefix.
   */
  private tag(line: string, n: number): string {
    if (line.startsWith('{') && line.endsWith('}')) {
      const json = line.length > 2 ? `{"process":${n},${line.slice(1)}` : `{"process":${n}}`;
      if (!this.render) return `${json}\n`;
      try {
        return this.render(JSON.parse(json));
      } catch {
        // Not JSON after all: printed as text below.
      }
    }
    return `[process ${n}] ${line}\n`;
  }
}
