import type { Logger } from 'pino';
import type { RedisClient } from './connection';

export interface RedisSettingsWarning {
  setting: string;
  message: string;
}

/**
 * Reads the Redis settings that decide whether queued jobs survive, and explains any that
 * don't hold. Managed services often forbid CONFIG: then only what INFO tells is checked.
 */
export async function checkRedisSettings(redis: RedisClient): Promise<RedisSettingsWarning[]> {
  const node = 'nodes' in redis ? (redis.nodes('master')[0] ?? redis) : redis;
  const warnings: RedisSettingsWarning[] = [];
  const info = await node.info('persistence').catch(() => '');
  const memory = await node.info('memory').catch(() => '');
  let policy = /maxmemory_policy:(\S+)/.exec(memory)?.[1];
  if (!policy) {
    const reply = (await node.call('CONFIG', 'GET', 'maxmemory-policy').catch(() => null)) as string[] | null;
    policy = reply?.[1];
  }
  if (policy && policy !== 'noeviction') {
    warnings.push({
      setting: 'maxmemory-policy',
      message: `Redis maxmemory-policy is "${policy}", not "noeviction": under memory pressure Redis may evict queue keys and BullMQ loses jobs silently. Set maxmemory-policy noeviction.`,
    });
  }
  const aof = /aof_enabled:(\d)/.exec(info)?.[1];
  const save = (await node.call('CONFIG', 'GET', 'save').catch(() => null)) as string[] | null;
  const rdbOff = save !== null && (save[1] ?? '') === '';
  if (aof === '0' && rdbOff) {
    warnings.push({
      setting: 'persistence',
      message: 'Redis keeps nothing on disk (no append-only file, no snapshots): a Redis restart loses every queued job and stored record. For production use appendonly yes (see docker-compose.yml).',
    });
  }
  return warnings;
}

/** Logs each warning once, at start-up, where an operator will see it. */
export async function warnAboutRedisSettings(redis: RedisClient, log: Logger): Promise<void> {
  try {
    for (const w of await checkRedisSettings(redis)) log.warn({ setting: w.setting }, w.message);
  } catch (err) {
    log.debug({ err: (err as Error).message }, 'could not read Redis settings');
  }
}
