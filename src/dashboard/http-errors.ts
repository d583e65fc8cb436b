import type { ErrorRequestHandler, RequestHandler } from 'express';
import type { Logger } from 'pino';

/** A request the API refuses, with the status and a message for the caller. */
export class HttpError extends Error {
  override readonly name = 'HttpError';
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * Fails with a 503 when `work` has not settled in `ms`. A read from a Redis behind a silent link
 * would otherwise hang until the connection notices (seconds), and a page polling every 2 s would
 * keep showing what it had as if it were live.
 */
export function within<T>(work: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new HttpError(503, `${what}: Redis did not answer in ${ms} ms; try again shortly`)), ms);
  });
  return Promise.race([work, deadline]).finally(() => clearTimeout(timer));
}

/** Unknown `/api/*` paths: JSON, like every other API answer. */
export const apiNotFound: RequestHandler = (req, res) => {
  res.status(404).json({ error: `no such endpoint: ${req.method} ${req.originalUrl.split('?')[0]}` });
};

/**
 * Last in the chain: a JSON `{ error }` for every failure. Our own refusals keep their status;
 * a Redis that cannot answer is a 503 (try again); anything else is a 500, logged with its stack.
 */
export function errorHandler(log: Logger): ErrorRequestHandler {
  return (err: unknown, req, res, next) => {
    if (res.headersSent) return next(err);
    if (err instanceof HttpError) {
      res.status(err.status).json({ error: err.message });
      return;
    }
    // express's own refusals of a request (a path like /api/pokemon/%ZZ that does not decode, a
    // body that does not parse) carry a 4xx status: the client's mistake, not a 500.
    const status = (err as { status?: unknown })?.status;
    if (typeof status === 'number' && status >= 400 && status < 500) {
      res.status(status).json({ error: clientErrorMessage(err as Error) });
      return;
    }
    if (isRedisUnavailable(err)) {
      log.warn({ err: (err as Error).message, path: req.path }, 'dashboard request failed: Redis unavailable');
      res.status(503).json({ error: 'Redis is unavailable; try again shortly' });
      return;
    }
    log.error({ err, path: req.path }, 'dashboard request failed');
    res.status(500).json({ error: 'internal error' });
  };
}

function clientErrorMessage(err: Error): string {
  if (err instanceof URIError) return 'the path is not valid percent-encoding (a "%" must be followed by two hex digits)';
  return (err as { expose?: boolean }).expose === false ? 'bad request' : err.message;
}

function isRedisUnavailable(err: unknown): boolean {
  const message = err instanceof Error ? err.message : '';
  return /Connection is closed|max retries per request|ECONNREFUSED|ECONNRESET|Stream isn't writeable|enableOfflineQueue|ETIMEDOUT/i.test(message);
}
