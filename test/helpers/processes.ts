import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';

const ROOT = resolve(__dirname, '../..');

/**
 * The shipped entry point: the file package.json's `bin` names, as `npx pokequeue` runs it
 * (`npm test` builds it first). Tests run commands through it, never from the sources.
 */
export const CLI = resolve(ROOT, (JSON.parse(readFileSync(resolve(ROOT, 'package.json'), 'utf8')) as { bin: { pokequeue: string } }).bin.pokequeue);

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** How to start a `pokequeue` process, beyond its arguments and environment. */
export interface SpawnOptions {
  /** The entry point. @defaultValue {@link CLI} */
  readonly cli?: string;
  /** Node flags before the entry point, e.g. `['--require', preload]`. */
  readonly nodeArgs?: readonly string[];
  /** A command that runs node for us, e.g. `['ip', 'netns', 'exec', 'ns1']`. */
  readonly via?: readonly string[];
  /**
   * Runs this instead of `node <cli>`, e.g. `['npx', '--no-install', 'pokequeue']`. Such a command
   * gets a process group of its own, and signals go to the whole group: npx passes none on.
   */
  readonly command?: readonly string[];
  readonly cwd?: string;
  readonly uid?: number;
  readonly gid?: number;
  /** Told the pid as soon as the process exists (a lab that must kill it on teardown, test/helpers/netns.ts). */
  readonly onSpawn?: (pid: number | undefined) => void;
}

function spawnCli(args: readonly string[], env: Record<string, string>, opts: SpawnOptions): ChildProcess {
  const argv = [...(opts.nodeArgs ?? []), opts.cli ?? CLI, ...args];
  const [command, ...rest] = opts.command
    ? [...opts.command, ...args]
    : opts.via?.length
      ? [...opts.via, process.execPath, ...argv]
      : [process.execPath, ...argv];
  const child = spawn(command!, rest, {
    env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd, uid: opts.uid, gid: opts.gid, detached: !!opts.command,
  });
  opts.onSpawn?.(child.pid);
  return child;
}

/** Signals the process, or its whole group when it has one of its own (see {@link SpawnOptions.command}). */
function signal(child: ChildProcess, opts: SpawnOptions, sig: NodeJS.Signals): void {
  if (child.exitCode !== null || child.signalCode !== null) return;
  if (opts.command && child.pid) {
    try {
      process.kill(-child.pid, sig);
    } catch {
      // the group is gone already
    }
  } else child.kill(sig);
}

/** Runs `pokequeue ...args` to completion (bounded by timeoutMs) with a clean, explicit environment. */
export function runCli(args: string[], env: Record<string, string>, timeoutMs = 60_000, opts: SpawnOptions = {}): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const child = spawnCli(args, env, opts);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      signal(child, opts, 'SIGKILL');
      reject(new Error(`pokequeue ${args.join(' ')} did not finish in ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolvePromise({ code, stdout, stderr });
    });
  });
}

/** Only what the test sets, plus PATH/HOME: a developer's own REDIS_URL must never leak in. */
export function cliEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, LOG_LEVEL: 'info', ...env };
}

export interface WorkerProcess {
  child: ChildProcess;
  output(): string;
  /** Resolves with the exit code. */
  exited: Promise<number | null>;
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Starts `pokequeue worker` and resolves once it says it is ready. */
export function startWorker(env: Record<string, string>, args: string[] = [], readyTimeoutMs = 20_000, opts: SpawnOptions = {}): Promise<WorkerProcess> {
  return startCliProcess(['worker', ...args], env, /worker ready/, readyTimeoutMs, opts);
}

export interface DashboardProcess extends WorkerProcess {
  /** Where it listens, e.g. http://127.0.0.1:41234 (from the line it prints). */
  url: string;
}

/** Starts `pokequeue dashboard --port 0 ...args` and resolves once it has printed its URL. */
export async function startDashboard(env: Record<string, string>, args: string[] = [], opts: SpawnOptions = {}): Promise<DashboardProcess> {
  const ready = /^dashboard: (http:\/\/\S+)\/admin\/queues/m;
  const p = await startCliProcess(['dashboard', '--port', '0', ...args], env, ready, 20_000, opts);
  return { ...p, url: ready.exec(p.output())![1]! };
}

/**
 * Starts a `pokequeue` process and resolves once its output (stdout or stderr) matches `ready`.
 * A process that does not get there in time is killed: no orphan is left behind.
 */
export async function startCliProcess(
  args: readonly string[],
  env: Record<string, string>,
  ready: RegExp,
  readyTimeoutMs = 20_000,
  opts: SpawnOptions = {},
): Promise<WorkerProcess> {
  const child = spawnCli(args, env, opts);
  let out = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await new Promise<void>((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      signal(child, opts, 'SIGKILL');
      reject(new Error(`pokequeue ${args.join(' ')}: no ${ready} in ${readyTimeoutMs} ms:\n${out}`));
    }, readyTimeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (ready.test(out)) {
        clearTimeout(timer);
        resolvePromise();
      }
    };
    // Keep collecting after ready: tests read what the process said later (shutdown, crashes).
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`pokequeue ${args.join(' ')} exited (${code}) before it was ready:\n${out}`));
    });
  });
  return {
    child,
    output: () => out,
    exited,
    async stop(sig: NodeJS.Signals = 'SIGTERM') {
      signal(child, opts, sig);
      return exited;
    },
  };
}
