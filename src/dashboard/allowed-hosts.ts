import type { RequestHandler } from 'express';
import { isIP } from 'node:net';

/**
 * Refuses a request whose `Host` is not a name this dashboard serves: the defence against DNS
 * rebinding. A page on `evil.example` can make its own name resolve to 127.0.0.1; the browser
 * then treats the dashboard as same-origin with that page and lets it pause, clean or add jobs,
 * and read everything. The one thing the attacker cannot change is the `Host` the browser sends:
 * it is the attacker's name. So only these pass:
 * - loopback names: `localhost` and `*.localhost` (browsers resolve those themselves, never via DNS);
 * - any IP address literal (`127.0.0.1`, `[::1]`, `10.0.0.5`): a rebinding page's Host is
 *   always a name, so an address in Host means the user typed that address;
 * - the name the dashboard listens on (DASHBOARD_HOST), and the names of DASHBOARD_ALLOWED_HOSTS
 *   (a proxy's public name; `.example.com` also allows its subdomains).
 * Used only while basic auth is off: with credentials the rebinding page cannot authenticate,
 * because the browser keeps them for the dashboard's real origin.
 * The health checks follow the same rule: probes (Kubernetes, Docker, load balancers) address the
 * dashboard by IP or as localhost, which pass, and nothing is gained by answering other names.
 */
export function allowedHosts(names: readonly string[]): RequestHandler {
  const exact = new Set<string>();
  const suffixes: string[] = [];
  for (const raw of names) {
    const name = normalize(raw);
    if (name.startsWith('.')) suffixes.push(name);
    else if (name) exact.add(name);
  }
  const allowed = (hostname: string) =>
    hostname === 'localhost' || hostname.endsWith('.localhost') || isIP(hostname) !== 0 || exact.has(hostname) ||
    suffixes.some((s) => hostname.endsWith(s) || hostname === s.slice(1));

  return (req, res, next) => {
    const host = req.headers.host;
    // HTTP/1.0 without Host: not a browser, so not a rebinding page (Node refuses it on 1.1).
    if (host === undefined || allowed(hostnameOf(host))) return next();
    res.status(403).json({
      error: `this dashboard does not serve the name "${host.slice(0, 100)}": open it as http://localhost or by IP address, or add the name to DASHBOARD_ALLOWED_HOSTS if a proxy uses it`,
    });
  };
}

/** The host name of a `Host` header value: lowercase, without port, brackets or a final dot. */
export function hostnameOf(host: string): string {
  const h = host.trim().toLowerCase();
  const v6 = /^\[([^\]]*)\](?::\d*)?$/.exec(h);
  if (v6) return v6[1]!;
  return normalize(h.replace(/:\d*$/, ''));
}

function normalize(name: string): string {
  return name.trim().toLowerCase().replace(/^\[(.*)\]$/, '$1').replace(/\.$/, '');
}
