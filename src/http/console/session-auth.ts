import type { FastifyRequest } from 'fastify';
import { tokenMatches } from '../admin.js';
import { readCookie } from './cookie.js';
import type { ConsoleSessions } from './sessions.js';

/** What a request's console cookie says: no cookie, a live session allowed through, or a refusal. */
export type CookieVerdict = { kind: 'none' } | { kind: 'ok' } | { kind: 'refused'; status: 401 | 403; title: string };

const SAFE = new Set(['GET', 'HEAD']);

/**
 * The admin API's second way in: a console session cookie. Every method that may change
 * something (all but GET and HEAD) also needs `x-csrf-token` equal to the session's, compared
 * in constant time; SameSite=Strict alone does not cover every browser and subdomain case.
 */
export function cookieVerdict(sessions: ConsoleSessions, req: FastifyRequest): CookieVerdict {
  const id = readCookie(req.headers.cookie);
  if (id === undefined) return { kind: 'none' };
  const s = sessions.use(id);
  if (!s) return { kind: 'refused', status: 401, title: 'the console session has ended; sign in again' };
  if (!SAFE.has(req.method)) {
    const presented = req.headers['x-csrf-token'];
    if (typeof presented !== 'string' || !tokenMatches(presented, s.csrfToken)) return { kind: 'refused', status: 403, title: 'a change needs the x-csrf-token header of the session' };
  }
  return { kind: 'ok' };
}
