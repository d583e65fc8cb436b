import { ConfigError } from '../config/errors';
import { printable } from '../printable';
import { type ConfigOverrides, parseConfig } from '../config/load';
import type { Config, ConfigKey } from '../config/variables';

/** Each option of PokeQueue.connect and the configuration entry (environment variable) it stands for. */
const OPTION_KEYS = {
  redisUrl: 'redisUrl',
  clusterNodes: 'redisClusterNodes',
  prefix: 'queuePrefix',
  pokeapiUrl: 'pokeapiUrl',
} as const satisfies Record<string, ConfigKey>;

const OPTION_NAMES = [...Object.keys(OPTION_KEYS), 'logger'];

/**
 * The configuration of a PokeQueue: its options over the environment, through the one parser the
 * CLI's flags use (config/load.ts), so a value is valid or not the same way everywhere. A bad
 * option is a ConfigError naming the option (`prefix: must be 1-64 letters…`); a bad environment
 * variable, one naming the variable. Options come from programs, often plain JavaScript, so their
 * types are checked here too, and a misspelt option is an error rather than silently ignored.
 */
export function configFromOptions(options: unknown, env: NodeJS.ProcessEnv): Config {
  if (options === undefined || options === null) options = {};
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new ConfigError('options', 'PokeQueue.connect takes an object such as { redisUrl, prefix }');
  }
  const given = options as Record<string, unknown>;
  for (const key of Object.keys(given)) {
    if (!OPTION_NAMES.includes(key)) throw new ConfigError(`"${printable(key.slice(0, 40))}"`, `is not an option of PokeQueue.connect (its options: ${OPTION_NAMES.join(', ')})`);
  }
  const overrides: ConfigOverrides = {};
  for (const [option, key] of Object.entries(OPTION_KEYS)) {
    let value = given[option];
    if (value === undefined) continue;
    if (option === 'clusterNodes' && Array.isArray(value) && value.every((n) => typeof n === 'string')) value = value.join(',');
    if (typeof value !== 'string') {
      throw new ConfigError(option, option === 'clusterNodes' ? 'must be a list of host:port strings, or one string of them separated by commas' : `must be a string (got ${value === null ? 'null' : typeof value})`);
    }
    overrides[key] = { value, flag: option };
  }
  return parseConfig(env, overrides);
}
