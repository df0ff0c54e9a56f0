import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { LoginThrottle } from '../../core/index.js';
import { tokenMatches } from '../admin.js';
import { readCookie, sessionCookie } from './cookie.js';
import { setConsoleHeaders } from './headers.js';
import type { ConsoleSessions } from './sessions.js';
import { serveWebApp } from '../web-app.js';

export interface ConsoleRouteOptions {
  sessions: ConsoleSessions;
  /** The admin API's token: signing in means presenting it once. */
  adminToken: string;
  /** Failed sign-ins per client address. */
  throttle: LoginThrottle;
  /** Every failed sign-in waits this long before its answer. */
  failureDelayMs: number;
  /** Set-Cookie with Secure (TLS listener, or not on loopback). */
  secureCookie: boolean;
  /** The built app (default: dist/web/console of this package). */
  root?: string;
}

function problem(reply: FastifyReply, status: number, title: string): FastifyReply {
  return reply.status(status).type('application/problem+json').send({ type: 'about:blank', title, status });
}

const wait = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/**
 * The admin console on the service's HTTP listener:
 *   GET  /console/...              the app (static files; the shell holds no data)
 *   POST /console/api/login        {token} → session cookie, {csrfToken, expiresAt}
 *   GET  /console/api/session      {csrfToken, expiresAt} of the session, or 401
 *   POST /console/api/logout       ends the session (needs x-csrf-token)
 * The data come from /api, which takes the session cookie in place of the bearer token.
 */
export async function registerConsole(app: FastifyInstance, opts: ConsoleRouteOptions): Promise<void> {
  await app.register(async (scope) => {
    scope.addHook('onSend', async (_req, reply, payload) => {
      setConsoleHeaders(reply);
      reply.header('cache-control', reply.getHeader('cache-control') ?? 'no-store');
      return payload;
    });

    scope.post('/console/api/login', { config: {}, bodyLimit: 4096 }, async (req, reply) => {
      const client = req.ip;
      const penalty = opts.throttle.penalisedFor(client);
      if (penalty > 0) {
        reply.header('retry-after', String(Math.ceil(penalty / 1000)));
        return problem(reply, 429, 'too many failed sign-ins from this address; wait and try again');
      }
      const body = req.body as { token?: unknown } | undefined;
      const token = typeof body?.token === 'string' ? body.token : '';
      if (!token || token.length > 1024 || !tokenMatches(token, opts.adminToken)) {
        // The answer waits a fixed delay; a penalty earned by repeated failures refuses the next ones (429).
        opts.throttle.failure(client);
        await wait(opts.failureDelayMs);
        return problem(reply, 401, 'wrong admin token');
      }
      opts.sessions.end(readCookie(req.headers.cookie));
      const { id, session } = opts.sessions.create();
      reply.header('set-cookie', sessionCookie(id, { secure: opts.secureCookie }));
      return reply.send({ csrfToken: session.csrfToken, expiresAt: new Date(opts.sessions.expiresAt(session)).toISOString() });
    });

    scope.get('/console/api/session', async (req, reply) => {
      const s = opts.sessions.use(readCookie(req.headers.cookie));
      if (!s) return problem(reply, 401, 'not signed in');
      return reply.send({ csrfToken: s.csrfToken, expiresAt: new Date(opts.sessions.expiresAt(s)).toISOString() });
    });

    scope.post('/console/api/logout', async (req: FastifyRequest, reply) => {
      const id = readCookie(req.headers.cookie);
      const s = opts.sessions.use(id);
      if (!s) return problem(reply, 401, 'not signed in');
      const presented = req.headers['x-csrf-token'];
      if (typeof presented !== 'string' || !tokenMatches(presented, s.csrfToken)) return problem(reply, 403, 'sign-out needs the x-csrf-token header of the session');
      opts.sessions.end(id);
      reply.header('set-cookie', sessionCookie('', { secure: opts.secureCookie, maxAgeS: 0 }));
      return reply.status(204).send();
    });

    await serveWebApp(scope, 'console', { label: 'the console', ...(opts.root ? { root: opts.root } : {}) });
  });
}
