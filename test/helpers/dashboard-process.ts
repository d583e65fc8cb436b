import { spawn, type ChildProcess } from 'node:child_process';
import { CLI, cliEnv } from './processes';

export interface DashboardProcess {
  child: ChildProcess;
  /** Where it listens, e.g. `http://127.0.0.1:40123`. */
  url: string;
  output(): string;
  stop(): Promise<void>;
}

/** Starts `pokequeue dashboard --port 0` (through `launcher`, if given) and resolves with its URL. */
export function startDashboardProcess(env: Record<string, string>, launcher: readonly string[] = [], timeoutMs = 20_000): Promise<DashboardProcess> {
  const [cmd, ...args] = [...launcher, process.execPath, CLI, 'dashboard', '--port', '0'];
  const child = spawn(cmd!, args, { env: cliEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`dashboard did not start in ${timeoutMs} ms:\n${out}`));
    }, timeoutMs);
    const onData = (d: Buffer) => {
      out += d.toString();
      const m = /dashboard: (http:\/\/[^/\s]+)/.exec(out);
      if (!m) return;
      clearTimeout(timer);
      resolve({
        child,
        url: m[1]!,
        output: () => out,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
          await exited;
        },
      });
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`dashboard exited (${code}) before it listened:\n${out}`));
    });
  });
}
