import { statSync } from 'node:fs';
import type { Command } from 'commander';
import { ExitCode } from '../../config/errors';
import { FAULT_KINDS, InvalidSimulatorOptionError, type FaultKind } from '../../simulator/faults';
import type { SimulatorOptions } from '../../simulator/server';

/** Flags exactly as commander hands them over: strings, validated in {@link toSimulatorOptions}. */
export interface SimApiFlags {
  port: string;
  host: string;
  latencyMs?: string;
  jitterMs?: string;
  errorRate?: string;
  rateLimitRate?: string;
  retryAfter?: string;
  hangRate?: string;
  resetRate?: string;
  truncateRate?: string;
  slowBodyRate?: string;
  slowBodyMs?: string;
  htmlRate?: string;
  wrongIdRate?: string;
  failFirst?: string;
  failFirstKind?: string;
  faultSeed?: string;
  dataDir?: string;
}

/** A flag value that cannot be used; the message is the whole line printed after `error: `. */
class InvalidFlagError extends Error {
  override readonly name = 'InvalidFlagError';
}

export function registerSimApi(program: Command): void {
  program
    .command('sim-api')
    .description('run the simulated PokeAPI (synthetic payloads, latency and faults) until SIGINT/SIGTERM')
    .option('--port <n>', 'port to listen on; 0 picks a free one', '3100')
    .option('--host <h>', 'interface to listen on', '127.0.0.1')
    .option('--latency-ms <n>', 'delay before every answer (default 0)')
    .option('--jitter-ms <n>', 'extra random delay, uniform in 0..n (default 0)')
    .option('--error-rate <0..1>', 'share of requests answered 500 (default 0)')
    .option('--rate-limit-rate <0..1>', 'share of requests answered 429 (default 0)')
    .option('--retry-after <s|none>', 'Retry-After seconds on 429s, or none to send no header (default 1)')
    .option('--hang-rate <0..1>', 'share of requests never answered (default 0)')
    .option('--reset-rate <0..1>', 'share of requests whose connection is reset mid-body (default 0)')
    .option('--truncate-rate <0..1>', 'share of requests answered with half the JSON (default 0)')
    .option('--slow-body-rate <0..1>', 'share of requests whose body trickles in over --slow-body-ms (default 0)')
    .option('--slow-body-ms <n>', 'how long a slow body takes (default 2000)')
    .option('--html-rate <0..1>', 'share of requests answered 200 with an HTML page (default 0)')
    .option('--wrong-id-rate <0..1>', "share of requests answered with another id's payload (default 0)")
    .option('--fail-first <n>', "each id's first n requests get --fail-first-kind (default 0)")
    .option('--fail-first-kind <kind>', `fault for --fail-first: ${FAULT_KINDS.join(', ')} (default 500)`)
    .option('--fault-seed <n>', 'seed of the random faults: the same seed faults the same attempts (default 1)')
    .option('--data-dir <dir>', 'serve real {id}.json.gz payloads from this directory instead of synthetic ones')
    .action(async (flags: SimApiFlags, cmd: Command) => {
      let options: SimulatorOptions;
      try {
        options = toSimulatorOptions(flags);
      } catch (err) {
        if (err instanceof InvalidFlagError) cmd.error(`error: ${err.message}`, { exitCode: ExitCode.usage });
        throw err;
      }
      process.exit(await serveUntilSignal(options, cmd));
    });
}

/**
 * Starts the simulator, prints the one line tests and scripts wait for, and stops on the first
 * SIGINT/SIGTERM. Resolves with the exit code.
 */
async function serveUntilSignal(options: SimulatorOptions, cmd: Command): Promise<number> {
  let simulator;
  try {
    // The simulator (and its payload generator) loads only when this command runs.
    const { startSimulator } = await import('../../simulator/server');
    simulator = await startSimulator(options);
  } catch (err) {
    if (err instanceof InvalidSimulatorOptionError) cmd.error(`error: ${err.message}`, { exitCode: ExitCode.usage });
    process.stderr.write(`error: cannot listen on ${options.host}:${options.port}: ${(err as Error).message}\n`);
    return ExitCode.failure;
  }
  process.stdout.write(`simulated PokeAPI listening on ${simulator.url}\n`);
  const running = simulator;
  return new Promise<number>((resolve) => {
    const stop = () => {
      process.off('SIGINT', stop);
      process.off('SIGTERM', stop);
      void running.close().then(() => resolve(ExitCode.ok));
    };
    process.on('SIGINT', stop);
    process.on('SIGTERM', stop);
  });
}

/** Turns the flags into simulator options; throws {@link InvalidFlagError} naming the flag. */
export function toSimulatorOptions(flags: SimApiFlags): SimulatorOptions {
  const failFirstKind = flags.failFirstKind;
  if (failFirstKind !== undefined && !FAULT_KINDS.includes(failFirstKind as FaultKind)) {
    throw new InvalidFlagError(`--fail-first-kind must be one of ${FAULT_KINDS.join(', ')} (got "${failFirstKind}")`);
  }
  if (flags.dataDir !== undefined && !isDirectory(flags.dataDir)) {
    throw new InvalidFlagError(`--data-dir must be a directory (got "${flags.dataDir}")`);
  }
  const port = integer(flags.port, '--port');
  if (port !== undefined && port > 65535) {
    throw new InvalidFlagError(`--port must be an integer from 0 to 65535 (got "${flags.port}")`);
  }
  const options: SimulatorOptions = {
    host: flags.host,
    port,
    latencyMs: integer(flags.latencyMs, '--latency-ms'),
    jitterMs: integer(flags.jitterMs, '--jitter-ms'),
    errorRate: rate(flags.errorRate, '--error-rate'),
    rateLimitRate: rate(flags.rateLimitRate, '--rate-limit-rate'),
    retryAfterSeconds:
      flags.retryAfter === 'none' ? null : integer(flags.retryAfter, '--retry-after', 'a non-negative integer or "none"'),
    hangRate: rate(flags.hangRate, '--hang-rate'),
    resetRate: rate(flags.resetRate, '--reset-rate'),
    truncateRate: rate(flags.truncateRate, '--truncate-rate'),
    slowBodyRate: rate(flags.slowBodyRate, '--slow-body-rate'),
    slowBodyMs: integer(flags.slowBodyMs, '--slow-body-ms'),
    htmlRate: rate(flags.htmlRate, '--html-rate'),
    wrongIdRate: rate(flags.wrongIdRate, '--wrong-id-rate'),
    failFirst: integer(flags.failFirst, '--fail-first'),
    failFirstKind: failFirstKind as FaultKind | undefined,
    faultSeed: signedInteger(flags.faultSeed, '--fault-seed'),
    dataDir: flags.dataDir,
  };
  const rates = [
    options.errorRate, options.rateLimitRate, options.hangRate, options.resetRate,
    options.truncateRate, options.slowBodyRate, options.htmlRate, options.wrongIdRate,
  ];
  const sum = rates.reduce<number>((total, r) => total + (r ?? 0), 0);
  if (sum > 1 + 1e-9) throw new InvalidFlagError(`the --*-rate flags add up to ${sum}, more than 1`);
  // Drop unset flags so the simulator's own defaults apply.
  return Object.fromEntries(Object.entries(options).filter(([, v]) => v !== undefined)) as SimulatorOptions;
}

function integer(value: string | undefined, name: string, what = 'a non-negative integer'): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new InvalidFlagError(`${name} must be ${what} (got "${value}")`);
  }
  return n;
}

function signedInteger(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (!/^-?\d+$/.test(value.trim()) || !Number.isSafeInteger(n)) {
    throw new InvalidFlagError(`${name} must be an integer (got "${value}")`);
  }
  return n;
}

function rate(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined;
  const n = Number(value);
  if (value.trim() === '' || !Number.isFinite(n) || n < 0 || n > 1) {
    throw new InvalidFlagError(`${name} must be a number from 0 to 1 (got "${value}")`);
  }
  return n;
}

function isDirectory(dir: string): boolean {
  try {
    return statSync(dir).isDirectory();
  } catch {
    return false;
  }
}
