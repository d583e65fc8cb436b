import type { IncomingHttpHeaders } from 'node:http';
import type { RequestHandler } from 'express';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** What an HTML form (or a no-preflight fetch) may send: a cross-site page can make a browser send these to us. */
const FORM_CONTENT_TYPES = new Set(['', 'application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);

/**
 * Refuses a request that changes something (bull-board's retry, clean, pause, add...) unless it
 * comes from the dashboard's own pages. A browser sends saved basic-auth credentials along with a
 * cross-site request, so without this any page the user visits could act on the queue.
 *
 * A write passes when:
 * - `Sec-Fetch-Site`, if sent, is `same-origin` (not `same-site`: another port on localhost is
 *   same-site), and
 * - `Origin`, if sent, names this host, whatever the content type; without Origin, `Referer`, if
 *   sent, must name this host.
 * Current browsers send Origin with every write (Firefox since version 70, 2019) and
 * Sec-Fetch-Site (Safari since 16.4, 2023); bull-board's own page sends both.
 *
 * A request with none of the three headers is not from a current browser: curl, a script. It is
 * let through, since refusing it would protect nothing (such a client sends whatever headers it
 * likes), with one exception: a POST that an HTML form could have sent (no content type, or a
 * form's or text/plain). Older browsers sent those cross-site with no Origin, and a page can drop
 * the Referer. Any other write (PUT, PATCH, DELETE, a JSON POST) a browser sends cross-site only
 * after a CORS preflight, which this server never grants. So `curl -X PUT .../pause` works; a
 * script posting a form adds `-H 'Sec-Fetch-Site: same-origin'`.
 * DNS rebinding, where the page IS same-origin in the browser's eyes, is stopped earlier, by the
 * Host check (allowed-hosts.ts).
 */
export function sameOriginWrites(): RequestHandler {
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const problem = crossSiteProblem(req.method, req.headers);
    if (!problem) return next();
    res.status(403).json({ error: `cross-site requests may not change anything: ${problem}` });
  };
}

function crossSiteProblem(method: string, headers: IncomingHttpHeaders): string | undefined {
  const site = headers['sec-fetch-site'];
  const host = headers.host?.toLowerCase();
  if (site !== undefined && site !== 'same-origin') return `Sec-Fetch-Site is "${site}"`;
  const origin = headers.origin;
  if (origin !== undefined) return hostOf(origin) === host ? undefined : `Origin "${origin.slice(0, 100)}" is not this dashboard`;
  if (site === 'same-origin') return undefined;
  const referer = headers.referer;
  if (referer !== undefined) return hostOf(referer) === host ? undefined : 'the Referer is not this dashboard';
  const type = (headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
  if (method === 'POST' && FORM_CONTENT_TYPES.has(type)) {
    return 'a form post without Origin, Referer or Sec-Fetch-Site (send Sec-Fetch-Site: same-origin from a script)';
  }
  return undefined;
}

/** The host[:port] of a URL, lowercase; undefined for "null" (sandboxed frames, file://) or garbage. */
function hostOf(url: string): string | undefined {
  try {
    return new URL(url).host.toLowerCase() || undefined;
  } catch {
    return undefined;
  }
}
