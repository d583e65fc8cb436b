import type { Logger } from 'pino';
import { ConfigError, ExitCode, InvalidSpecError } from '../config/errors';
import { type ConfigOverrides, loadDotEnv, parseConfig } from '../config/load';
import type { Config } from '../config/variables';
import { redactSecretsInText } from '../config/redact';
import { createLogger } from '../log';
import { BadListError, PokeApiUnavailableError } from '../pokeapi/errors';
import { RedisUnavailableError } from '../redis/errors';

/** An error whose message is the whole story for the user: printed without a stack trace. */
export class UserFacingError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.failure,
  ) {
    super(message);
  }
}

/**
 * Runs a command body with the configuration parsed once at this edge, and turns every expected
 * failure into one line on stderr and the documented exit code. Only a real bug shows a stack.
 */
export async function runCommand(
  overrides: ConfigOverrides,
  body: (config: Config, log: Logger) => Promise<number | void>,
): Promise<never> {
  let code: number;
  try {
    loadDotEnv();
    const config = parseConfig(process.env, overrides);
    const log = createLogger(config.logLevel);
    code = (await body(config, log)) ?? ExitCode.ok;
  } catch (err) {
    code = reportError(err);
  }
  process.exit(code);
}

export function reportError(err: unknown): number {
  if (err instanceof ConfigError || err instanceof InvalidSpecError) {
    process.stderr.write(`error: ${err.message}\n`);
    return ExitCode.usage;
  }
  if (err instanceof RedisUnavailableError || err instanceof UserFacingError) {
    process.stderr.write(`error: ${redactSecretsInText(err.message)}\n`);
    return err.exitCode;
  }
  // The API's list (for `all` and names): one that cannot be trusted is bad input, like a bad
  // spec; one that cannot be read is a failure that may pass. Nothing was enqueued either way.
  if (err instanceof BadListError || err instanceof PokeApiUnavailableError) {
    process.stderr.write(`error: ${redactSecretsInText(err.message)}\n`);
    return err instanceof BadListError ? ExitCode.usage : ExitCode.failure;
  }
  process.stderr.write(`unexpected error: ${redactSecretsInText((err as Error)?.stack ?? String(err))}\n`);
  return ExitCode.failure;
}

/** Turns a flag value into a config override, tagged with the flag's name for error messages. */
export function flag(value: string | number | undefined, name: string) {
  return value === undefined ? undefined : { value: String(value), flag: name };
}
