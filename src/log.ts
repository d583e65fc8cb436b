import pino, { type Logger } from 'pino';

/**
 * Logs go to stderr so stdout stays for command output a script can read. Humans at a terminal
 * get pino-pretty; everything else (CI, containers, log shippers) gets one JSON object per line.
 */
export function createLogger(level: string, opts: { pretty?: boolean; name?: string } = {}): Logger {
  const usePretty = opts.pretty ?? process.stderr.isTTY === true;
  const base = { level, name: opts.name, base: { pid: process.pid } };
  if (!usePretty) return pino(base, pino.destination({ fd: 2, sync: true }));
  // Loaded only for a terminal: it is a sizeable share of a short command's start-up.
  const pretty = require('pino-pretty') as typeof import('pino-pretty');
  return pino(base, pretty({ destination: 2, sync: true, ignore: 'hostname', translateTime: 'HH:MM:ss.l' }));
}
