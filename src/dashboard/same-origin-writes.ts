import type { RequestHandler } from 'express';

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * Refuses a request that changes something (bull-board's retry, clean, remove...) when a browser
 * says it comes from another site. A browser sends saved basic-auth credentials along with a
 * cross-site form post, so without this any page the user visits could act on the queue.
 * Scripts and curl send no Origin and pass.
 */
export function sameOriginWrites(): RequestHandler {
  return (req, res, next) => {
    if (SAFE_METHODS.has(req.method)) return next();
    const site = req.headers['sec-fetch-site'];
    const origin = req.headers.origin;
    let crossSite = site === 'cross-site';
    if (origin !== undefined) {
      try {
        crossSite ||= new URL(origin).host !== req.headers.host;
      } catch {
        crossSite = true; // "null" (sandboxed frames, file://) or garbage
      }
    }
    if (!crossSite) return next();
    res.status(403).json({ error: 'cross-site requests may not change anything' });
  };
}
