/**
 * Spawning what the bench measures: the built CLI (`dist/src/cli/main.js`), worker processes, and
 * baseline scripts, each timed as a whole process from spawn to exit. Every child gets a clean,
 * explicit environment (a developer's REDIS_URL must never leak in) and a deadline; the bench
 * only ever stops the processes it started, by their PID.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';

/** The repository root (dist/bench/lib → ../../..). */
export const ROOT = resolve(__dirname, '../../..');
/** The built CLI, as a user runs it. */
export const CLI = resolve(ROOT, 'dist/src/cli/main.js');
/** Compiled bench files live under dist/bench. */
export const DIST_BENCH = resolve(ROOT, 'dist/bench');

export interface TimedResult {
  /** Spawn to exit, in milliseconds. */
  ms: number;
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Only what the bench sets, plus PATH/HOME. */
/** Every child this bench started and that is still running: ended by PID if the bench is interrupted. */
const liveChildren = new Set<ChildProcess>();

export function track<C extends ChildProcess>(child: C): C {
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  return child;
}

/** Ends every child still running (workers, baselines, redis-server): the bench leaves nothing behind. */
export function killTrackedChildren(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
}

export function childEnv(env: Record<string, string>): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH, HOME: process.env.HOME, ...env };
}

/**
 * Runs `command args` to completion and times it from spawn to exit. Rejects on a non-zero exit
 * (unless `allowFailure`) or past `timeoutMs`, killing the child (by its PID) first.
 */
export function runTimed(
  command: string,
  args: string[],
  env: Record<string, string>,
  opts: { timeoutMs?: number; allowFailure?: boolean; cwd?: string } = {},
): Promise<TimedResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  return new Promise((resolvePromise, reject) => {
    const started = performance.now();
    const child = track(spawn(command, args, { env: childEnv(env), stdio: ['ignore', 'pipe', 'pipe'], cwd: opts.cwd ?? ROOT }));
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    let ms = 0;
    // 'exit' is when the process is gone; 'close' also waits for its pipes to drain.
    child.on('exit', () => (ms = performance.now() - started));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish in ${timeoutMs} ms\nstdout: ${tail(stdout)}\nstderr: ${tail(stderr)}`));
    }, timeoutMs);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      if (code !== 0 && !opts.allowFailure) {
        reject(new Error(`${command} ${args.join(' ')} exited ${code}\nstdout: ${tail(stdout)}\nstderr: ${tail(stderr)}`));
        return;
      }
      resolvePromise({ ms, code, stdout, stderr });
    });
  });
}

/** `node <script> ...args`, timed as a whole process. */
export function runNode(script: string, args: string[], env: Record<string, string>, opts: { timeoutMs?: number; nodeArgs?: string[] } = {}): Promise<TimedResult> {
  return runTimed(process.execPath, [...(opts.nodeArgs ?? []), script, ...args], env, opts);
}

/** `pokequeue ...args`, timed as a whole process. */
export function runCli(args: string[], env: Record<string, string>, opts: { timeoutMs?: number; nodeArgs?: string[] } = {}): Promise<TimedResult> {
  return runNode(CLI, args, env, opts);
}

export interface WorkerProcess {
  readonly pid: number;
  readonly child: ChildProcess;
  output(): string;
  readonly exited: Promise<number | null>;
  /** SIGTERM (a graceful stop, which also lets --cpu-prof write its profile), SIGKILL after `graceMs`. */
  stop(graceMs?: number): Promise<number | null>;
}

export interface WorkerLaunch {
  env: Record<string, string>;
  concurrency: number;
  /** Node flags before the script, e.g. --cpu-prof or --require of the probe. */
  nodeArgs?: string[];
  /** Run this script instead of the CLI's `worker` command (baselines). */
  script?: string;
  args?: string[];
  /** Text the process prints once it takes jobs. */
  readyText?: string;
  readyTimeoutMs?: number;
}

/** Starts a worker process and resolves once it says it is ready. */
export async function startWorker(launch: WorkerLaunch): Promise<WorkerProcess> {
  const script = launch.script ?? CLI;
  const args = launch.script ? (launch.args ?? []) : ['worker', '--concurrency', String(launch.concurrency), ...(launch.args ?? [])];
  const readyText = launch.readyText ?? 'worker ready';
  const child = track(
    spawn(process.execPath, [...(launch.nodeArgs ?? []), script, ...args], {
      env: childEnv(launch.env),
      stdio: ['ignore', 'pipe', 'pipe'],
      cwd: ROOT,
    }),
  );
  let out = '';
  const onData = (d: Buffer) => {
    // Keep only the tail: a long run must not grow this string without bound.
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  const readyTimeoutMs = launch.readyTimeoutMs ?? 20_000;
  await new Promise<void>((resolvePromise, reject) => {
    const deadline = Date.now() + readyTimeoutMs;
    const check = setInterval(() => {
      if (out.includes(readyText)) {
        clearInterval(check);
        resolvePromise();
      } else if (child.exitCode !== null || child.signalCode !== null) {
        clearInterval(check);
        reject(new Error(`worker exited (${child.exitCode ?? child.signalCode}) before it was ready:\n${tail(out)}`));
      } else if (Date.now() > deadline) {
        clearInterval(check);
        child.kill('SIGKILL');
        reject(new Error(`worker not ready in ${readyTimeoutMs} ms:\n${tail(out)}`));
      }
    }, 10);
  });
  return {
    pid: child.pid!,
    child,
    output: () => out,
    exited,
    async stop(graceMs = 10_000) {
      if (child.exitCode !== null || child.signalCode !== null) return exited;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const code = await exited;
      clearTimeout(timer);
      return code;
    },
  };
}

/** Stops every worker given, in parallel. */
export async function stopAll(workers: WorkerProcess[]): Promise<void> {
  await Promise.all(workers.map((w) => w.stop()));
  workers.length = 0;
}

/** The last few lines of a long output, for error messages. */
export function tail(text: string, chars = 2000): string {
  return text.length > chars ? `…${text.slice(-chars)}` : text;
}

/** The last line of stdout parsed as JSON (what `--json` commands and baselines print). */
export function lastJsonLine<T>(stdout: string): T {
  const lines = stdout.trim().split('\n');
  for (let i = lines.length - 1; i >= 0; i--) {
    const line = lines[i]!.trim();
    if (line.startsWith('{')) return JSON.parse(line) as T;
  }
  throw new Error(`no JSON line in output:\n${tail(stdout)}`);
}

/** VmRSS and VmHWM of a live process, in KiB, from /proc (Linux only; null elsewhere or once it exited). */
export function procMemory(pid: number): { rssKb: number; hwmKb: number } | null {
  const file = `/proc/${pid}/status`;
  if (!existsSync(file)) return null;
  try {
    const status = readFileSync(file, 'utf8');
    const rss = /VmRSS:\s+(\d+) kB/.exec(status);
    const hwm = /VmHWM:\s+(\d+) kB/.exec(status);
    if (!rss || !hwm) return null;
    return { rssKb: Number(rss[1]), hwmKb: Number(hwm[1]) };
  } catch {
    return null; // the process exited between the check and the read
  }
}

/** Samples a process's memory every `intervalMs` until stopped; keeps the peak and the last reading. */
export function sampleMemory(pid: number, intervalMs = 50): { stop(): { peakRssKb: number; hwmKb: number; samples: number } } {
  let peakRssKb = 0;
  let hwmKb = 0;
  let samples = 0;
  const take = () => {
    const m = procMemory(pid);
    if (!m) return;
    samples++;
    peakRssKb = Math.max(peakRssKb, m.rssKb);
    hwmKb = Math.max(hwmKb, m.hwmKb);
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    stop() {
      take();
      clearInterval(timer);
      return { peakRssKb, hwmKb, samples };
    },
  };
}

/** CPU time (user + system) a live process has used so far, in ms, from /proc/<pid>/stat; null if unavailable. */
export function procCpuMs(pid: number): number | null {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name, which is in parentheses and may itself contain spaces.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]); // utime, stime (fields 14 and 15)
    return (ticks * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}

/** USER_HZ: 100 on every Linux the bench targets (getconf CLK_TCK). */
const CLOCK_TICKS = 100;
