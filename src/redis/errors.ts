import { ExitCode } from '../config/errors';

/**
 * Redis could not be reached in time, or it answered and refused us. Its message is safe to print
 * (no password) and says what Redis said; `exitCode` is 2 when the configuration itself is wrong
 * for that server (a database it does not have), 1 otherwise.
 *
 * In a module of its own, with no ioredis import, so that the package's type declarations
 * (which export this class) need no ioredis types.
 */
export class RedisUnavailableError extends Error {
  override readonly name = 'RedisUnavailableError';
  constructor(
    message: string,
    readonly exitCode: number = ExitCode.failure,
  ) {
    super(message);
  }
}
