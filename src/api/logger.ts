import pino, { type Logger } from 'pino';
import { ConfigError } from '../config/errors';
import type { PokeQueueLogger } from './types';

const METHODS = ['error', 'warn', 'info', 'debug'] as const;
/** pino's numeric levels → the method of the caller's logger that takes them. */
const METHOD_FOR_LEVEL: Record<number, (typeof METHODS)[number]> = { 10: 'debug', 20: 'debug', 30: 'info', 40: 'warn', 50: 'error', 60: 'error' };

/**
 * The pino Logger everything inside pokequeue logs to, for a library caller: silent unless the
 * caller gave a logger, and then a real pino logger whose lines (level, message and fields) are
 * handed to the caller's `error`/`warn`/`info`/`debug`, so that a pino logger, `console` or any
 * logger with those methods can be given. A line costs a JSON round trip; the library logs only
 * what goes wrong (Redis lost and regained), so that costs nothing that matters.
 */
export function libraryLogger(given: unknown): Logger {
  if (given === undefined) return pino({ level: 'silent' });
  const target = given as Partial<Record<(typeof METHODS)[number], unknown>> | null;
  if (typeof target !== 'object' || target === null || !METHODS.every((m) => typeof target[m] === 'function')) {
    throw new ConfigError('logger', 'must have error, warn, info and debug methods (a pino logger or console will do)');
  }
  const logger = target as PokeQueueLogger;
  const destination = {
    write(line: string): void {
      const { level, msg, ...fields } = JSON.parse(line) as { level: number; msg?: string } & Record<string, unknown>;
      const method = METHOD_FOR_LEVEL[level] ?? 'info';
      if (Object.keys(fields).length === 0) logger[method](msg ?? '');
      else logger[method](fields, msg);
    },
  };
  // No time, pid or host name of pino's own: the caller's logger adds what it wants.
  return pino({ level: 'debug', base: undefined, timestamp: false }, destination);
}
