import { Router } from 'express';
import type { RedisClient } from '../redis/connection';

/** How long `/readyz` waits for Redis's PONG: a probe must answer quickly either way. */
export const READY_TIMEOUT_MS = 1000;

/**
 * Probes for orchestrators and load balancers, never behind authentication:
 * `/healthz` is 200 while the process serves HTTP; `/readyz` is 200 when Redis answers a PING in
 * time and 503 otherwise. Neither says where Redis is: they are open to anyone who can connect.
 */
export function healthRoutes(redis: RedisClient): Router {
  const router = Router();
  router.get('/healthz', (_req, res) => {
    res.set('Cache-Control', 'no-store').json({ status: 'ok' });
  });
  router.get('/readyz', async (_req, res) => {
    res.set('Cache-Control', 'no-store');
    const problem = await redisProblem(redis);
    if (problem) res.status(503).json({ status: 'unavailable', redis: problem });
    else res.json({ status: 'ready', redis: 'ok' });
  });
  return router;
}

/** Why Redis cannot serve now, or undefined when it answered. */
async function redisProblem(redis: RedisClient): Promise<string | undefined> {
  // While reconnecting, ioredis would queue the PING until it gives up: answer at once instead.
  if (redis.status !== 'ready') return redis.status;
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<string>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), READY_TIMEOUT_MS);
    });
    const reply = await Promise.race([redis.ping().then((r) => (r === 'PONG' ? undefined : 'unexpected reply')), timeout]);
    return reply;
  } catch {
    return 'error';
  } finally {
    clearTimeout(timer);
  }
}
