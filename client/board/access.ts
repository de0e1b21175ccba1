// Who may read the board, and what every response carries. Guarantees:
// - on a loopback address it answers only this machine; on any other address it does not start
//   without an access token, and the refusal says how to put it behind an authenticating proxy;
// - with a token, every request needs it: `?token=` once (it becomes an HttpOnly cookie and the
//   address is cleaned), the cookie, or `Authorization: Bearer`; compared in constant time;
// - a strict Content-Security-Policy (no inline script or style, nothing from elsewhere), no MIME
//   sniffing, no framing, no referrer: secure-headers from Hono.
import { timingSafeEqual, createHash } from 'node:crypto';
import { isIP } from 'node:net';
import type { MiddlewareHandler } from 'hono';
import { getCookie, setCookie } from 'hono/cookie';
import { secureHeaders } from 'hono/secure-headers';
import { ConfigError } from '../../common/errors.js';

const COOKIE = 'lifeboat_board';
/** Long enough that guessing it is hopeless: `openssl rand -hex 16` gives 32 characters. */
const MIN_TOKEN = 16;

export function isLoopback(host: string): boolean {
  const bare = host.replace(/^\[|\]$/g, '');
  if (bare === 'localhost') return true;
  if (isIP(bare) === 4) return bare.startsWith('127.');
  return bare === '::1';
}

/** Refuses (exit 2) a board that would be open to the network without a token, or a token too short to protect it. */
export function checkExposure(host: string, token: string | undefined): void {
  if (token !== undefined && token.length < MIN_TOKEN)
    throw new ConfigError(`the board's token must be at least ${MIN_TOKEN} characters (make one with "openssl rand -hex 16")`);
  if (!isLoopback(host) && token === undefined)
    throw new ConfigError(
      `the board would listen on ${host} with no access token: anyone who reaches it could read every incident. ` +
        `Give --token (or LIFEBOAT_BOARD_TOKEN; make one with "openssl rand -hex 16"), ` +
        `or keep it on 127.0.0.1 and put it behind your team's authenticating reverse proxy (oauth2-proxy, or nginx with auth_request) ` +
        `that forwards to http://127.0.0.1:<port>`,
    );
}

const digest = (text: string) => createHash('sha256').update(text).digest();
const same = (given: string | undefined, token: string) => given !== undefined && timingSafeEqual(digest(given), digest(token));

/** Lets through requests that carry the token; a `?token=` that matches is kept as a cookie and removed from the address. */
export function requireToken(token: string | undefined): MiddlewareHandler {
  return async (c, next) => {
    if (token === undefined) return next();
    const url = new URL(c.req.url);
    const fromQuery = url.searchParams.get('token') ?? undefined;
    if (fromQuery !== undefined && same(fromQuery, token)) {
      setCookie(c, COOKIE, token, { httpOnly: true, sameSite: 'Strict', path: '/' });
      url.searchParams.delete('token');
      return c.redirect(`${url.pathname}${url.search}`, 303);
    }
    const bearer = c.req.header('authorization')?.match(/^Bearer\s+(.+)$/i)?.[1];
    if (same(bearer, token) || same(getCookie(c, COOKIE), token)) return next();
    return c.text('the board needs its access token: open it once with ?token=<token>, or send "Authorization: Bearer <token>"', 401);
  };
}

/** Every response: the policy allows only this origin's script, style and images, and nothing inline. */
export const securityHeaders = (): MiddlewareHandler =>
  secureHeaders({
    contentSecurityPolicy: {
      defaultSrc: ["'self'"],
      scriptSrc: ["'self'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'"],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      baseUri: ["'none'"],
      formAction: ["'none'"],
      frameAncestors: ["'none'"],
    },
    xContentTypeOptions: 'nosniff',
    xFrameOptions: 'DENY',
    referrerPolicy: 'no-referrer',
  });
