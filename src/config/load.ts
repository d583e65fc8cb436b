import { existsSync } from 'node:fs';
import type { z } from 'zod';
import { resolve } from 'node:path';
import { ConfigError } from './errors';
import { type Config, type ConfigKey, configVariables } from './variables';

/** A value given on the command line, with the flag's name for error messages. */
export interface ConfigOverride {
  value: string;
  flag: string;
}

export type ConfigOverrides = Partial<Record<ConfigKey, ConfigOverride | undefined>>;

/**
 * Parses and validates the whole configuration once. A flag beats the environment, the
 * environment beats the default. Throws {@link ConfigError} naming the first bad variable.
 */
export function parseConfig(env: NodeJS.ProcessEnv, overrides: ConfigOverrides = {}): Config {
  const config = parseVariables(configVariables, env, overrides, new Set(['redisUrl'])) as Config;
  if (config.redisClusterNodes && !/\{[^}]+\}/.test(config.queuePrefix)) {
    throw new ConfigError(
      overrides.queuePrefix?.flag ?? 'QUEUE_PREFIX',
      `must contain a {hash-tag} when REDIS_CLUSTER_NODES is set, so every key of the queue lands in one slot (try "{${config.queuePrefix}}")`,
    );
  }
  if (config.redisSentinels && config.redisClusterNodes) {
    throw new ConfigError('REDIS_SENTINELS', 'cannot be used with REDIS_CLUSTER_NODES: a Redis Cluster fails over by itself; set one or the other');
  }
  if (config.redisSentinels && !config.redisSentinelName) {
    throw new ConfigError('REDIS_SENTINEL_NAME', 'must be set with REDIS_SENTINELS: the name the sentinels monitor the primary under (sentinel monitor <name> ...)');
  }
  if (config.redisSentinelName && !config.redisSentinels) {
    throw new ConfigError('REDIS_SENTINEL_NAME', 'is set but REDIS_SENTINELS is not: give the sentinels\' host:port list too, or unset it');
  }
  return config;
}

/** A table of variables: each with its environment name, default and schema. */
export type VariableTable = Record<string, { env: string; default: string; schema: z.ZodType<unknown, string | undefined> }>;

/**
 * Parses one table: a flag beats the environment, the environment beats the default. Values of
 * `secret` keys are never echoed in errors (a URL may hold a password).
 */
export function parseVariables(
  table: VariableTable,
  env: NodeJS.ProcessEnv,
  overrides: Partial<Record<string, ConfigOverride | undefined>>,
  secret: ReadonlySet<string> = new Set(),
): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, spec] of Object.entries(table)) {
    const override = overrides[key];
    const fromEnv = env[spec.env];
    const source = override ? override.flag : spec.env;
    const raw = override?.value ?? (fromEnv !== undefined && fromEnv !== '' ? fromEnv : spec.default);
    if (raw === '' && spec.default === '') {
      out[key] = undefined;
      continue;
    }
    const result = spec.schema.safeParse(raw);
    if (!result.success) {
      const reason = result.error.issues[0]?.message ?? 'is not valid';
      const shown = secret.has(key) ? '' : ` (got "${raw}")`;
      throw new ConfigError(source, `${reason}${shown}`);
    }
    out[key] = result.data;
  }
  return out;
}

/**
 * Reads `.env` from the working directory into `process.env` (values already set win), using
 * Node's own loader rather than a dependency.
 */
export function loadDotEnv(cwd = process.cwd()): void {
  const file = resolve(cwd, '.env');
  if (existsSync(file)) process.loadEnvFile(file);
}
