import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { FastifyPluginAsync, FastifyReply, FastifyRequest } from 'fastify';
import type { Logger, Metrics, LoginThrottle } from '../core/index.js';
import { errorMessage } from '../core/index.js';
import { tokenMatches } from './admin.js';
import { basicCredentials } from './basic-auth.js';

/** One user as `cmd=list` answers it (MailStore's Application Integration, seed 001). */
export interface IntegrationListUser {
  userName: string;
  distinguishedName?: string;
  fullName?: string;
  emailAddresses?: string[];
}

/** What the endpoint needs from the user sources (integration/ implements it). */
export interface IntegrationBackend {
  /** Streamed; may throw at any point (the answer is then cut off, never a short valid list). */
  list(signal: AbortSignal): AsyncIterable<IntegrationListUser>;
  authenticate(user: string, password: string): Promise<boolean>;
}

export interface IntegrationEndpointOptions {
  /** Absolute, ending in `/`; `<path>index.php` and the path without its slash are answered too. */
  path: string;
  user: string;
  password: string;
  maxBodyBytes: number;
  listChunkBytes: number;
  /** Failed `cmd=auth` per user name and per client address. */
  userThrottle: LoginThrottle;
  clientThrottle: LoginThrottle;
  logger: Logger;
  metrics: Metrics;
}

/** More concurrent auth calls than this from a client in penalty are answered 429 at once. */
const PENALISED_CLIENT_CONCURRENCY = 4;

function problem(reply: FastifyReply, status: number, title: string): FastifyReply {
  return reply.status(status).type('application/problem+json').send({ type: 'about:blank', title, status });
}

class DuplicateParameter {
  constructor(readonly name: string) {}
}

/** A form body as single values; a repeated key is refused (which one would count?). */
function parseForm(body: string): Map<string, string> | DuplicateParameter {
  const out = new Map<string, string>();
  for (const [k, v] of new URLSearchParams(body)) {
    if (out.has(k)) return new DuplicateParameter(k);
    out.set(k, v);
  }
  return out;
}

/** Only the protocol's four fields, whatever else a source's object carries. */
function listEntry(u: IntegrationListUser): string {
  return JSON.stringify({
    userName: u.userName,
    ...(u.distinguishedName !== undefined ? { distinguishedName: u.distinguishedName } : {}),
    ...(u.fullName !== undefined ? { fullName: u.fullName } : {}),
    ...(u.emailAddresses !== undefined ? { emailAddresses: u.emailAddresses } : {}),
  });
}

/**
 * The JSON array, written in chunks of about `chunkBytes` as the source yields users.
 * Readable.from pulls only when the socket has room (backpressure), so a slow reader holds
 * one chunk, not the list. The first user was fetched before the headers went out.
 */
async function* jsonArray(
  first: IteratorResult<IntegrationListUser>,
  rest: AsyncIterator<IntegrationListUser>,
  chunkBytes: number,
  done: (count: number, err?: unknown) => void,
): AsyncGenerator<string> {
  let count = 0;
  try {
    if (first.done) {
      yield '[]\n';
      done(0);
      return;
    }
    let buf = '[\n' + listEntry(first.value);
    count = 1;
    for (;;) {
      const r = await rest.next();
      if (r.done) break;
      buf += ',\n' + listEntry(r.value);
      count++;
      if (buf.length >= chunkBytes) {
        yield buf;
        buf = '';
      }
    }
    yield buf + '\n]\n';
    done(count);
  } catch (err) {
    done(count, err);
    throw err;
  } finally {
    await rest.return?.();
  }
}

/**
 * MailStore's Application Integration endpoint: POST, form-encoded, HTTP Basic.
 * `cmd=list` → JSON array of users (streamed); `cmd=auth&user&pass` → {"succeeded": bool}.
 * Errors are problem JSON: 401 (with WWW-Authenticate), 400, 405, 413, 415, 429, 503.
 */
export function integrationRoutes(backend: IntegrationBackend, opts: IntegrationEndpointOptions): FastifyPluginAsync {
  return async (app) => {
    const inFlightUsers = new Map<string, number>();
    const inFlightClients = new Map<string, number>();
    const closing = new AbortController();
    app.addHook('preClose', async () => closing.abort());

    const count = (cmd: string, result: string) =>
      opts.metrics.inc('postamt_integration_requests_total', { cmd, result }, 1, 'Application Integration requests by command and result');

    app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: opts.maxBodyBytes }, (_req, body, done) => {
      done(null, parseForm(body as string));
    });

    // Credentials first, before the body is read: an unauthenticated client learns nothing else.
    app.addHook('onRequest', async (req, reply) => {
      const creds = basicCredentials(req.headers.authorization);
      // Both compared every time, so timing tells neither which part was wrong nor how much matched.
      const userOk = tokenMatches(creds?.user ?? '', opts.user);
      const passOk = tokenMatches(creds?.password ?? '', opts.password);
      if (creds && userOk && passOk) return;
      count('-', 'unauthorized');
      opts.logger.warn({ ip: req.ip, user: creds?.user }, 'integration request with wrong credentials');
      if (creds) await sleep(opts.clientThrottle.failure(req.ip), undefined, { signal: closing.signal }).catch(() => undefined);
      return problem(reply.header('www-authenticate', 'Basic realm="postamt-integration", charset="UTF-8"'), 401, 'the Application Integration endpoint needs valid HTTP Basic credentials');
    });

    const paths = [opts.path, `${opts.path}index.php`, ...(opts.path.length > 1 ? [opts.path.slice(0, -1)] : [])];
    for (const url of paths) {
      app.route({
        method: ['GET', 'HEAD', 'PUT', 'DELETE', 'PATCH', 'OPTIONS'],
        url,
        exposeHeadRoute: false,
        handler: async (_req, reply) => {
          count('-', 'method');
          return problem(reply.header('allow', 'POST'), 405, 'the Application Integration endpoint takes POST only');
        },
      });
      app.post(url, { bodyLimit: opts.maxBodyBytes }, async (req, reply) => {
        const form = req.body as Map<string, string> | DuplicateParameter | undefined;
        if (form instanceof DuplicateParameter) {
          count('-', 'bad-request');
          return problem(reply, 400, `parameter ${form.name} given more than once`);
        }
        if (!(form instanceof Map)) {
          count('-', 'media-type');
          return problem(reply, 415, 'send the parameters as application/x-www-form-urlencoded');
        }
        const f = form;
        switch (f.get('cmd')) {
          case 'list':
            return list(req, reply);
          case 'auth':
            return auth(req, reply, f);
          case undefined:
            count('-', 'bad-request');
            return problem(reply, 400, 'missing parameter cmd (list or auth)');
          default:
            count('-', 'bad-request');
            return problem(reply, 400, 'unknown cmd: use list or auth');
        }
      });
    }

    async function list(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply> {
      const started = performance.now();
      const abort = new AbortController();
      reply.raw.on('close', () => abort.abort());
      const it = backend.list(abort.signal)[Symbol.asyncIterator]();
      let first: IteratorResult<IntegrationListUser>;
      try {
        first = await it.next();
      } catch (err) {
        await it.return?.().catch(() => undefined);
        count('list', 'unavailable');
        opts.logger.error({ cmd: 'list', ip: req.ip, err: errorMessage(err) }, 'integration list failed');
        return problem(reply, 503, 'the user sources cannot be read just now');
      }
      const done = (n: number, err?: unknown) => {
        const ms = Math.round(performance.now() - started);
        if (err) {
          count('list', 'failed');
          // Headers are out: the connection is cut so the client cannot take a partial list for a whole one.
          opts.logger.error({ cmd: 'list', ip: req.ip, users: n, ms, err: errorMessage(err) }, 'integration list failed while streaming');
        } else {
          count('list', 'ok');
          opts.logger.info({ cmd: 'list', ip: req.ip, users: n, ms }, 'integration');
        }
      };
      const body = Readable.from(jsonArray(first, it, opts.listChunkBytes, done), { objectMode: false, highWaterMark: 1 });
      return reply.type('application/json; charset=utf-8').header('cache-control', 'no-store').send(body);
    }

    async function auth(req: FastifyRequest, reply: FastifyReply, f: Map<string, string>): Promise<FastifyReply> {
      const user = f.get('user');
      const pass = f.get('pass');
      if (!user || pass === undefined) {
        count('auth', 'bad-request');
        return problem(reply, 400, 'cmd=auth needs the parameters user and pass');
      }
      const ip = req.ip;
      const userKey = user.toLowerCase();
      // A user or client in penalty gets one guess at a time: the rest are turned away at once.
      const userPenalty = opts.userThrottle.penalty(userKey);
      const clientPenalty = opts.clientThrottle.penalty(ip);
      if ((userPenalty > 0 && (inFlightUsers.get(userKey) ?? 0) > 0) || (clientPenalty > 0 && (inFlightClients.get(ip) ?? 0) >= PENALISED_CLIENT_CONCURRENCY)) {
        count('auth', 'throttled');
        opts.logger.warn({ cmd: 'auth', user, ip }, 'integration auth throttled');
        return problem(reply.header('retry-after', String(Math.ceil(Math.max(userPenalty, clientPenalty) / 1000))), 429, 'too many failed logins; try again later');
      }
      const bump = (m: Map<string, number>, k: string, d: number) => {
        const n = (m.get(k) ?? 0) + d;
        if (n > 0) m.set(k, n);
        else m.delete(k);
      };
      bump(inFlightUsers, userKey, 1);
      bump(inFlightClients, ip, 1);
      const started = performance.now();
      try {
        let ok: boolean;
        try {
          ok = await backend.authenticate(user, pass);
        } catch (err) {
          count('auth', 'unavailable');
          opts.logger.error({ cmd: 'auth', user, ip, err: errorMessage(err) }, 'integration auth failed');
          return problem(reply, 503, 'the user sources cannot be asked just now');
        }
        if (!ok) {
          // Answered late, like every protocol's failed login; the user or client still counts as busy meanwhile.
          const delay = Math.max(opts.userThrottle.failure(userKey), opts.clientThrottle.failure(ip));
          if (delay > 0) await sleep(delay, undefined, { signal: closing.signal }).catch(() => undefined);
        }
        count('auth', ok ? 'succeeded' : 'failed');
        opts.logger.info({ cmd: 'auth', user, ip, succeeded: ok, ms: Math.round(performance.now() - started) }, 'integration');
        return reply.type('application/json; charset=utf-8').header('cache-control', 'no-store').send(JSON.stringify({ succeeded: ok }));
      } finally {
        bump(inFlightUsers, userKey, -1);
        bump(inFlightClients, ip, -1);
      }
    }
  };
}
