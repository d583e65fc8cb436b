import { createHash, timingSafeEqual } from 'node:crypto';
import type { RequestHandler } from 'express';

/** The realm browsers show in their login prompt. */
export const AUTH_REALM = 'pokequeue';

export interface Credentials {
  user: string;
  password: string;
}

/**
 * HTTP basic auth (RFC 7617) for one user. Both the user and the password are compared as
 * SHA-256 digests with `timingSafeEqual`: equal-length buffers whatever was sent, so the time
 * taken says nothing about how much of either matched. Both comparisons always run.
 */
export function basicAuth(expected: Credentials): RequestHandler {
  const userDigest = sha256(expected.user);
  const passwordDigest = sha256(expected.password);
  return (req, res, next) => {
    const given = parseBasicAuthorization(req.headers.authorization);
    const userOk = timingSafeEqual(sha256(given?.user ?? ''), userDigest);
    const passwordOk = timingSafeEqual(sha256(given?.password ?? ''), passwordDigest);
    if (given && userOk && passwordOk) return next();
    res.set('WWW-Authenticate', `Basic realm="${AUTH_REALM}"`).status(401).json({ error: 'authentication required' });
  };
}

/** The user and password of an `Authorization: Basic ...` header; undefined when absent or malformed. */
export function parseBasicAuthorization(header: string | undefined): Credentials | undefined {
  const match = /^Basic[ \t]+([A-Za-z0-9+/]+=*)[ \t]*$/i.exec(header ?? '');
  if (!match) return undefined;
  const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  // The user ends at the first colon; the password may contain more.
  return colon === -1 ? undefined : { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}

const sha256 = (text: string) => createHash('sha256').update(text, 'utf8').digest();
