import { z } from 'zod';
import { ConfigError } from './errors';
import { type ConfigOverride, parseVariables } from './load';
import { boolean, integer } from './schemas';

/**
 * The settings of `pokequeue dashboard`, in the same table shape as `configVariables`
 * (variables.ts): variable, default, schema, and why. Kept apart only until it is merged into
 * that table; `parseDashboardConfig` then becomes part of `parseConfig`.
 */

const host = z
  .string()
  .trim()
  .regex(
    /^(?:[A-Za-z0-9.-]{1,253}|\[?[0-9A-Fa-f:.]{2,45}\]?)$/,
    'must be a host name or an IP address to listen on, e.g. 127.0.0.1, 0.0.0.0 or ::1',
  )
  // Node listens on a bare IPv6 address; brackets are only URL syntax.
  .transform((v) => v.replace(/^\[(.*)\]$/, '$1'));

/** Names a proxy puts in Host: comma-separated, no ports; `.example.com` covers its subdomains too. */
const hostNames = z
  .string()
  .trim()
  .refine(
    (v) => v.split(',').every((n) => /^\.?[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?$/.test(n.trim())),
    'must be a comma-separated list of host names without ports, e.g. pokequeue.example.com,.internal.example',
  )
  .transform((v) => v.split(',').map((n) => n.trim().toLowerCase()));

const credential = z.string().min(1).max(1024, 'must be at most 1024 characters');
// RFC 7617: the user-id ends at the first colon, so a user with one could never log in.
const user = credential.refine((v) => !v.includes(':'), 'must not contain ":" (basic auth ends the user name there)');

export const dashboardVariables = {
  dashboardPort: {
    env: 'DASHBOARD_PORT',
    default: '3000',
    schema: integer(0, 65535),
    doc: 'Port of the dashboard (bull-board, /stats, /metrics, the HTTP API); 0 picks a free one.',
  },
  dashboardHost: {
    env: 'DASHBOARD_HOST',
    default: '127.0.0.1',
    schema: host,
    doc: 'Interface the dashboard listens on. Loopback by default: anyone who reaches it can retry and delete jobs. Any other address needs DASHBOARD_USER and DASHBOARD_PASSWORD (or DASHBOARD_ALLOW_ANONYMOUS=true).',
  },
  dashboardAllowedHosts: {
    env: 'DASHBOARD_ALLOWED_HOSTS',
    default: '',
    schema: hostNames.optional(),
    doc: 'Without credentials the dashboard answers only requests addressed to localhost, an IP address or DASHBOARD_HOST (so a web page cannot reach it through DNS rebinding). Add here the names a proxy forwards under (comma-separated; .example.com covers its subdomains).',
  },
  dashboardUser: {
    env: 'DASHBOARD_USER',
    default: '',
    schema: user.optional(),
    doc: 'With DASHBOARD_PASSWORD, turns on HTTP basic auth for every route except /healthz and /readyz. Set both or neither.',
  },
  dashboardPassword: {
    env: 'DASHBOARD_PASSWORD',
    default: '',
    schema: credential.optional(),
    doc: 'The basic-auth password; never logged or echoed. Use a long random one: basic auth sends it with every request, so put TLS in front when it crosses a network.',
  },
  dashboardReadOnly: {
    env: 'DASHBOARD_READ_ONLY',
    default: 'false',
    schema: boolean,
    doc: 'Shows everything but refuses every change in bull-board (retry, remove, clean, pause, add).',
  },
  dashboardAllowAnonymous: {
    env: 'DASHBOARD_ALLOW_ANONYMOUS',
    default: 'false',
    schema: boolean,
    doc: 'Allows listening on a non-loopback address without credentials, e.g. behind a proxy that does its own authentication. Anyone who can reach the port can then change the queue.',
  },
} as const;

export type DashboardConfigKey = keyof typeof dashboardVariables;

/** The parsed dashboard settings: made once at the edge, passed down to `startDashboard`. */
export type DashboardConfig = {
  [K in DashboardConfigKey]: z.output<(typeof dashboardVariables)[K]['schema']>;
};

export type DashboardConfigOverrides = Partial<Record<DashboardConfigKey, ConfigOverride | undefined>>;

/** Variables whose value must never appear in an error message. */
const SECRET: ReadonlySet<DashboardConfigKey> = new Set(['dashboardPassword', 'dashboardUser']);

/**
 * Parses and validates the dashboard settings like `parseConfig` does the rest: a flag beats the
 * environment, the environment beats the default. Throws {@link ConfigError} naming the first bad
 * variable, a lone user or password, or an exposed address without credentials.
 */
export function parseDashboardConfig(env: NodeJS.ProcessEnv, overrides: DashboardConfigOverrides = {}): DashboardConfig {
  const out = parseVariables(dashboardVariables, env, overrides, SECRET);
  const config = out as DashboardConfig;
  if (config.dashboardUser && !config.dashboardPassword) {
    throw new ConfigError('DASHBOARD_PASSWORD', 'must be set when DASHBOARD_USER is (set both to turn on basic auth, or neither)');
  }
  if (config.dashboardPassword && !config.dashboardUser) {
    throw new ConfigError('DASHBOARD_USER', 'must be set when DASHBOARD_PASSWORD is (set both to turn on basic auth, or neither)');
  }
  assertSafeExposure(config, overrides.dashboardHost?.flag ?? 'DASHBOARD_HOST');
  return config;
}

/** Whether basic auth is on. */
export function dashboardAuthEnabled(config: DashboardConfig): boolean {
  return Boolean(config.dashboardUser && config.dashboardPassword);
}

/** Whether `host` only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  return h === 'localhost' || h === '::1' || /^127(?:\.\d{1,3}){3}$/.test(h) || /^::ffff:127(?:\.\d{1,3}){3}$/.test(h);
}

/**
 * Refuses to serve a dashboard that can change the queue to the network without credentials:
 * bull-board retries, removes and cleans jobs for whoever asks.
 */
export function assertSafeExposure(config: DashboardConfig, variable = 'DASHBOARD_HOST'): void {
  if (isLoopbackHost(config.dashboardHost) || dashboardAuthEnabled(config) || config.dashboardAllowAnonymous) return;
  throw new ConfigError(
    variable,
    `refusing to listen on ${config.dashboardHost} without credentials: anyone who can reach it could retry, remove and clean jobs. ` +
      'Set DASHBOARD_USER and DASHBOARD_PASSWORD, listen on 127.0.0.1, or set DASHBOARD_ALLOW_ANONYMOUS=true if something in front already authenticates.',
  );
}
