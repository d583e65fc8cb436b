import { spawn, type ChildProcess } from 'node:child_process';
import { resolve } from 'node:path';

/** The built CLI: tests run what users run (`npm test` builds first). */
export const CLI = resolve(__dirname, '../../dist/src/cli/main.js');

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs `pokequeue ...args` to completion (bounded by timeoutMs) with a clean, explicit environment.
 * `launcher` runs it through another command, e.g. `ip netns exec <ns>` (test/helpers/netns.ts).
 */
export function runCli(
  args: string[],
  env: Record<string, string>,
  timeoutMs = 60_000,
  launcher: readonly string[] = [],
  onSpawn?: (pid: number | undefined) => void,
): Promise<CliResult> {
  return new Promise((resolvePromise, reject) => {
    const [cmd, ...argv] = [...launcher, process.execPath, CLI, ...args];
    const child = spawn(cmd!, argv, { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    onSpawn?.(child.pid);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
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
export function startWorker(env: Record<string, string>, args: string[] = [], readyTimeoutMs = 20_000): Promise<WorkerProcess> {
  return startReadyProcess([CLI, 'worker', ...args], env, readyTimeoutMs);
}

/** Starts `node <argv>` (through `launcher`, if given) and resolves once its output says "worker ready". */
export async function startReadyProcess(
  argv: string[],
  env: Record<string, string>,
  readyTimeoutMs = 20_000,
  launcher: readonly string[] = [],
): Promise<WorkerProcess> {
  const [cmd, ...rest] = [...launcher, process.execPath, ...argv];
  const child = spawn(cmd!, rest, { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  await new Promise<void>((resolvePromise, reject) => {
    const timer = setTimeout(() => {
      // Never leave an orphan behind: a worker that did not come up is ended here.
      child.kill('SIGKILL');
      reject(new Error(`worker not ready in ${readyTimeoutMs} ms (it logs "worker ready" at LOG_LEVEL=info):\n${out}`));
    }, readyTimeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      if (out.includes('worker ready')) {
        clearTimeout(timer);
        resolvePromise();
      }
    };
    // Keep collecting after ready: tests read what the worker said later (shutdown, crashes).
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`worker exited (${code}) before it was ready:\n${out}`));
    });
  });
  return {
    child,
    output: () => out,
    exited,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
