/** The machine a run measured, for the report: figures mean little without it. */
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import * as os from 'node:os';

export interface MachineInfo {
  cpuModel: string;
  cores: number;
  memoryGb: number;
  os: string;
  node: string;
  redis: string;
  python: string;
  aiohttp: string;
  /** Dependency versions the figures depend on. */
  packages: Record<string, string>;
}

export const PYTHON = '/usr/bin/python3';

export function describeMachine(redisVersion: string, root: string): MachineInfo {
  const cpus = os.cpus();
  const packages: Record<string, string> = {};
  for (const name of ['bullmq', 'ioredis', 'undici']) {
    try {
      packages[name] = (JSON.parse(readFileSync(`${root}/node_modules/${name}/package.json`, 'utf8')) as { version: string }).version;
    } catch {
      packages[name] = 'unknown';
    }
  }
  return {
    cpuModel: cpuModel() ?? cpus[0]?.model ?? 'unknown',
    cores: cpus.length,
    memoryGb: Math.round((os.totalmem() / 1024 ** 3) * 10) / 10,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    redis: redisVersion,
    python: run(PYTHON, ['--version']) ?? 'not found',
    aiohttp: aiohttpVersion() ?? 'not installed',
    packages,
  };
}

/** Whether Debian's python3-aiohttp is importable by /usr/bin/python3. */
export function aiohttpVersion(): string | null {
  return run(PYTHON, ['-c', 'import aiohttp; print(aiohttp.__version__)']);
}

function cpuModel(): string | null {
  if (!existsSync('/proc/cpuinfo')) return null;
  const m = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'));
  return m ? m[1]!.trim() : null;
}

function run(cmd: string, args: string[]): string | null {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).trim() || null;
  } catch {
    return null;
  }
}
