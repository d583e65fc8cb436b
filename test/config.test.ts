import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { ConfigError } from '../src/config/errors';
import { parseConfig } from '../src/config/load';
import { redactRedisUrl, redactSecretsInText } from '../src/config/redact';
import { configVariables } from '../src/config/variables';
import { dashboardVariables, parseDashboardConfig } from '../src/config/dashboard-variables';

describe('configuration', () => {
  it('has working defaults with nothing set', () => {
    const c = parseConfig({});
    expect(c.redisUrl).toBe('redis://127.0.0.1:6379');
    expect(c.pokeapiUrl).toBe('https://pokeapi.co/api/v2');
    expect(c.queuePrefix).toBe('pokequeue');
    expect(c.rateLimitPerSecond).toBeGreaterThan(0);
    expect(c.storeRaw).toBe(false);
    expect(c.redisClusterNodes).toBeUndefined();
  });

  it('reads the environment, and a flag beats it', () => {
    const c = parseConfig({ WORKER_CONCURRENCY: '7', STORE_RAW: 'true' }, { workerConcurrency: { value: '3', flag: '--concurrency' } });
    expect(c.workerConcurrency).toBe(3);
    expect(c.storeRaw).toBe(true);
  });

  it('strips a trailing slash from POKEAPI_URL', () => {
    expect(parseConfig({ POKEAPI_URL: 'http://127.0.0.1:3100/api/v2/' }).pokeapiUrl).toBe('http://127.0.0.1:3100/api/v2');
  });

  it.each([
    ['WORKER_CONCURRENCY', 'ten'],
    ['WORKER_CONCURRENCY', '0'],
    ['RATE_LIMIT_PER_SECOND', '-1'],
    ['HTTP_TIMEOUT_MS', '1.5'],
    ['JOB_ATTEMPTS', '1000'],
    ['REDIS_URL', 'http://localhost:6379'],
    ['POKEAPI_URL', 'ftp://x'],
    ['QUEUE_PREFIX', 'has space'],
    ['STORE_RAW', 'maybe'],
    ['LOG_LEVEL', 'loud'],
    ['REDIS_CLUSTER_NODES', 'localhost'],
    ['REDIS_SENTINELS', '127.0.0.1'],
    ['WORKER_STUCK_MS', '1000'],
    ['REDIS_LOST_TIMEOUT_MS', 'soon'],
  ])('names %s when it is %j', (variable, value) => {
    expect(() => parseConfig({ [variable]: value })).toThrow(ConfigError);
    try {
      parseConfig({ [variable]: value });
    } catch (err) {
      expect((err as ConfigError).variable).toBe(variable);
      expect((err as Error).message).toContain(variable);
    }
  });

  it('names the flag when a flag was wrong', () => {
    expect(() => parseConfig({}, { workerConcurrency: { value: 'x', flag: '--concurrency' } })).toThrow(/--concurrency/);
  });

  it('never echoes a bad REDIS_URL, which may hold a password', () => {
    expect(() => parseConfig({ REDIS_URL: 'http://:s3cret@host' })).toThrow(ConfigError);
    try {
      parseConfig({ REDIS_URL: 'http://:s3cret@host' });
    } catch (err) {
      expect((err as Error).message).not.toContain('s3cret');
    }
  });

  it('requires a hash-tagged prefix with Redis Cluster', () => {
    expect(() => parseConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000' })).toThrow(/QUEUE_PREFIX/);
    expect(parseConfig({ REDIS_CLUSTER_NODES: '127.0.0.1:7000', QUEUE_PREFIX: '{pq}' }).redisClusterNodes).toEqual(['127.0.0.1:7000']);
  });

  it('accepts passwords, TLS and database numbers in REDIS_URL', () => {
    expect(parseConfig({ REDIS_URL: 'rediss://user:pw@redis.example:6380/3' }).redisUrl).toBe('rediss://user:pw@redis.example:6380/3');
  });

  describe('Redis Sentinel', () => {
    it('reads the sentinels and the primary\'s name', () => {
      const c = parseConfig({ REDIS_SENTINELS: '127.0.0.1:26379, 10.0.0.2:26380', REDIS_SENTINEL_NAME: 'mymaster' });
      expect(c.redisSentinels).toEqual(['127.0.0.1:26379', '10.0.0.2:26380']);
      expect(c.redisSentinelName).toBe('mymaster');
    });

    it.each([
      [{ REDIS_SENTINELS: '127.0.0.1:26379' }, 'REDIS_SENTINEL_NAME', /must be set with REDIS_SENTINELS/],
      [{ REDIS_SENTINEL_NAME: 'mymaster' }, 'REDIS_SENTINEL_NAME', /REDIS_SENTINELS is not/],
      [{ REDIS_SENTINELS: '127.0.0.1:26379', REDIS_SENTINEL_NAME: 'my master' }, 'REDIS_SENTINEL_NAME', /letters, digits/],
      [{ REDIS_SENTINELS: '127.0.0.1:26379', REDIS_SENTINEL_NAME: 'm', REDIS_CLUSTER_NODES: '127.0.0.1:7000', QUEUE_PREFIX: '{p}' }, 'REDIS_SENTINELS', /REDIS_CLUSTER_NODES/],
    ])('refuses %j, naming %s', (env, variable, message) => {
      expect(() => parseConfig(env)).toThrow(message);
      try {
        parseConfig(env);
      } catch (err) {
        expect((err as ConfigError).variable).toBe(variable);
      }
    });
  });

  it("the README's configuration table names every variable with its default", () => {
    const readme = readFileSync(resolve(__dirname, '../README.md'), 'utf8');
    for (const v of [...Object.values(configVariables), ...Object.values(dashboardVariables)]) {
      const shown = v.default === '' ? '(unset)' : `\`${v.default}\``;
      expect(readme).toContain(`| \`${v.env}\` | ${shown} |`);
    }
  });

  it('.env.example documents every variable with its default', () => {
    const example = readFileSync(resolve(__dirname, '../.env.example'), 'utf8');
    for (const v of [...Object.values(configVariables), ...Object.values(dashboardVariables)]) {
      expect(example).toMatch(new RegExp(`^#? ?${v.env}=${v.default.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')}$`, 'm'));
    }
  });

  it('the README configuration table names every variable with its default', () => {
    const readme = readFileSync(resolve(__dirname, '../README.md'), 'utf8');
    for (const v of [...Object.values(configVariables), ...Object.values(dashboardVariables)]) {
      const shown = v.default === '' ? '(unset)' : `\`${v.default}\``;
      expect([v.env, readme.includes(`| \`${v.env}\` | ${shown} |`)]).toEqual([v.env, true]);
    }
  });

  it.each([
    ['REDIS_URL', 'redis://127.0.0.1:6379/abc', /database number.*"\/abc"/],
    ['REDIS_URL', 'redis://:s3cret@127.0.0.1:6379/-1', /database number.*"\/-1"/],
    ['REDIS_URL', 'redis://127.0.0.1:6379/1/2', /database number/],
    ['REDIS_CLUSTER_NODES', '127.0.0.1:7000,127.0.0.1:99999', /port 1-65535/],
    ['REDIS_CLUSTER_NODES', '127.0.0.1:0', /port 1-65535/],
    ['POKEAPI_URL', 'https://pokeapi.co/api/v2?x=1', /without a query/],
    ['POKEAPI_URL', 'https://pokeapi.co/api/v2#top', /or fragment/],
    ['HTTP_MAX_BODY_BYTES', '10', /at least 1024/],
    ['DASHBOARD_ALLOWED_HOSTS', 'proxy.example:8080', /without ports/],
  ])('refuses %s=%j', (variable, value, message) => {
    const parse = () => (variable.startsWith('DASHBOARD_') ? parseDashboardConfig({ [variable]: value }) : parseConfig({ [variable]: value }));
    expect(parse).toThrow(ConfigError);
    expect(parse).toThrow(message);
    expect(parse).toThrow(new RegExp(`^${variable}:`));
    try {
      parse();
    } catch (err) {
      expect((err as Error).message).not.toContain('s3cret');
    }
  });

  it('accepts a database number, or none, in REDIS_URL', () => {
    for (const url of ['redis://h:6379', 'redis://h:6379/', 'redis://h:6379/0', 'redis://:pw@h:6379/15']) {
      expect(parseConfig({ REDIS_URL: url }).redisUrl).toBe(url);
    }
  });
});

describe('redacting secrets', () => {
  it('hides the password of a Redis URL', () => {
    expect(redactRedisUrl('redis://user:hunter2@host:6379/1')).toBe('redis://user:***@host:6379/1');
    expect(redactRedisUrl('redis://:hunter2@host:6379')).toBe('redis://:***@host:6379');
    expect(redactRedisUrl('redis://127.0.0.1:6379')).toBe('redis://127.0.0.1:6379');
  });

  it('hides passwords inside free text such as error messages', () => {
    const text = redactSecretsInText('connect to rediss://admin:hunter2@db:6380 failed');
    expect(text).not.toContain('hunter2');
    expect(text).toContain('rediss://admin:***@db:6380');
  });
});
