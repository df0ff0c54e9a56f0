import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { tokenMatches } from '../admin.js';
import { LoginThrottle, type LoginThrottleOptions, type Logger } from '../../core/index.js';
import { PraxisError, type Draft, type Praxis } from '../../praxis/index.js';
import { SessionStore, type PraxisSession, type SessionOptions } from './sessions.js';
import { boundaryOf, MultipartError, parseMultipart } from './multipart.js';

/**
 * The Praxis-Postfach's HTTP edge (docs/praxis.md) under /praxis/api: sign-in with a server-side
 * session (HttpOnly, SameSite=Strict cookie; Secure off loopback), a CSRF token in
 * `x-csrf-token` on every change, JSON answers only (never HTML), over the Praxis domain object.
 */
export type PraxisBackend = Pick<Praxis, 'practice' | 'checkLogin' | 'search' | 'send' | 'listInbox' | 'openMessage' | 'attachment' | 'deleteMessage'>;

export interface PraxisHttpOptions {
  praxis: PraxisBackend;
  logger: Logger;
  session: SessionOptions;
  /** Mark the cookie Secure (the listener is not on loopback). */
  secureCookie: boolean;
  failureDelayMs: number;
  throttle: LoginThrottleOptions;
  /** Largest request body of POST /messages (JSON with base64, or multipart). */
  maxBodyBytes: number;
}

export const SESSION_COOKIE = 'praxis_session';
const UID = /^[\x21-\x7e]{1,70}$/;

declare module 'fastify' {
  interface FastifyRequest {
    praxisSession?: PraxisSession;
  }
}

function problem(reply: FastifyReply, status: number, title: string, extra: Record<string, unknown> = {}): FastifyReply {
  return reply.status(status).type('application/problem+json').send({ type: 'about:blank', title, status, ...extra });
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const STATUS_OF: Record<PraxisError['kind'], number> = { refused: 401, unavailable: 503, notFound: 404, badRequest: 400, tooLarge: 413 };

const str = (v: unknown, max: number): string | undefined => (typeof v === 'string' && v.length <= max ? v : undefined);
const strings = (v: unknown): string[] => (v === undefined || v === null || v === '' ? [] : (Array.isArray(v) ? v : [v]).flatMap((x) => (typeof x === 'string' ? x.split(',') : [String(x)])).map((x) => x.trim()).filter((x) => x !== ''));

/** A Content-Disposition for a download: an ASCII fallback and the UTF-8 name (RFC 6266, RFC 8187). */
export function attachmentDisposition(filename: string): string {
  const ascii = filename.replace(/[^\x20-\x7e]|["\\]/g, '_');
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encodeURIComponent(filename).replace(/['()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`)}`;
}

const SAFE_TYPE = /^[a-z0-9][a-z0-9!#$&^_.+-]{0,126}\/[a-z0-9][a-z0-9!#$&^_.+-]{0,126}$/i;

export function draftFromJson(body: unknown): Draft {
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw new PraxisError('badRequest', 'a JSON object is expected');
  const b = body as Record<string, unknown>;
  const attachments = b.attachments === undefined ? [] : b.attachments;
  if (!Array.isArray(attachments)) throw new PraxisError('badRequest', 'attachments: a list');
  return {
    to: strings(b.to),
    cc: strings(b.cc),
    subject: str(b.subject ?? '', 998) ?? fail('subject: a text of at most 998 characters'),
    text: str(b.text ?? '', 50 * 1024 * 1024) ?? fail('text: a text'),
    ...(b.dienstkennung !== undefined ? { dienstkennung: str(b.dienstkennung, 200) ?? fail('dienstkennung: a text') } : {}),
    attachments: attachments.map((a: unknown, i) => {
      const x = (a ?? {}) as Record<string, unknown>;
      const content = str(x.content, Number.MAX_SAFE_INTEGER);
      if (content === undefined || !/^[A-Za-z0-9+/=\s]*$/.test(content)) fail(`attachments[${i}].content: base64`);
      return { filename: str(x.filename, 255) ?? fail(`attachments[${i}].filename: a file name`), contentType: str(x.contentType ?? 'application/octet-stream', 255) ?? fail(`attachments[${i}].contentType`), content: Buffer.from(content!, 'base64') };
    }),
  };
}

function fail(message: string): never {
  throw new PraxisError('badRequest', message);
}

export function draftFromMultipart(body: Buffer, contentType: string): Draft {
  let parts;
  try {
    parts = parseMultipart(body, boundaryOf(contentType));
  } catch (err) {
    if (err instanceof MultipartError) fail(err.message);
    throw err;
  }
  const field = (name: string) => parts.filter((p) => p.name === name && p.filename === undefined).map((p) => p.data.toString('utf8'));
  const dk = field('dienstkennung')[0];
  return {
    to: strings(field('to').concat(field('to[]'))),
    cc: strings(field('cc').concat(field('cc[]'))),
    subject: field('subject')[0] ?? '',
    text: field('text')[0] ?? '',
    ...(dk !== undefined ? { dienstkennung: dk } : {}),
    attachments: parts.filter((p) => p.filename !== undefined).map((p) => ({ filename: p.filename!, contentType: (p.contentType ?? 'application/octet-stream').split(';')[0]!.trim(), content: p.data })),
  };
}

export async function praxisApi(app: FastifyInstance, opts: PraxisHttpOptions): Promise<void> {
  const sessions = new SessionStore(opts.session);
  const throttle = new LoginThrottle({ ...opts.throttle, maxChecksPerAddress: 1, maxWaitingPerAddress: 4 });
  app.addHook('onClose', async () => sessions.close());
  const cookie = (value: string, maxAgeS: number) => `${SESSION_COOKIE}=${value}; Path=/praxis; HttpOnly; SameSite=Strict${opts.secureCookie ? '; Secure' : ''}; Max-Age=${maxAgeS}`;

  app.addContentTypeParser(/^multipart\/form-data/i, { parseAs: 'buffer', bodyLimit: opts.maxBodyBytes }, (_req, body, done) => done(null, body));

  await app.register(
    async (api) => {
      api.addHook('onSend', async (_req, reply, payload) => {
        reply.header('cache-control', 'no-store');
        reply.header('x-content-type-options', 'nosniff');
        reply.header('referrer-policy', 'no-referrer');
        if (!reply.hasHeader('content-security-policy')) reply.header('content-security-policy', "default-src 'none'; frame-ancestors 'none'");
        return payload;
      });
      api.setErrorHandler((err: { statusCode?: number; code?: string; message: string }, req, reply) => {
        if (err instanceof PraxisError) return problem(reply, STATUS_OF[err.kind], err.message);
        const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
        if (status === 413) return problem(reply, 413, `the request is larger than ${opts.maxBodyBytes} bytes`);
        if (status >= 500) opts.logger.error({ url: req.url.split('?')[0], err: err.message }, 'praxis handler failed');
        return problem(reply, status, status >= 500 ? 'Internal Server Error' : err.message);
      });

      // Every route but the sign-in needs a session; every change also its CSRF token.
      api.addHook('onRequest', async (req, reply) => {
        const path = req.url.split('?')[0]!;
        if (path === '/praxis/api/login') return;
        const s = sessions.get(cookieValue(req.headers.cookie, SESSION_COOKIE));
        if (!s) return problem(reply, 401, 'not signed in');
        if (req.method !== 'GET' && req.method !== 'HEAD') {
          const token = req.headers['x-csrf-token'];
          if (typeof token !== 'string' || !tokenMatches(token, s.csrf)) return problem(reply, 403, 'the CSRF token (x-csrf-token) is missing or wrong');
        }
        req.praxisSession = s;
      });

      const session = (req: FastifyRequest): PraxisSession => req.praxisSession!;
      /** A refusal of the session's own credentials ends the session. */
      const guarded = async <T>(req: FastifyRequest, f: (s: PraxisSession) => Promise<T>): Promise<T> => {
        const s = session(req);
        try {
          return await f(s);
        } catch (err) {
          if (err instanceof PraxisError && err.kind === 'refused') sessions.delete(s.id);
          throw err;
        }
      };

      api.post('/login', { bodyLimit: 16 * 1024 }, async (req, reply) => {
        const body = (req.body ?? {}) as Record<string, unknown>;
        const user = str(body.user, 256);
        const password = str(body.password, 256);
        if (!user || !password) return problem(reply, 400, 'user and password are required (JSON strings)');
        const ip = req.ip;
        const admission = await throttle.admit(ip);
        if (admission.kind === 'penalised') return problem(reply.header('retry-after', String(Math.ceil(admission.waitMs / 1000))), 429, 'too many failed sign-ins from this address; try again later');
        if (admission.kind !== 'check') return problem(reply, 429, 'too many sign-ins at once from this address');
        let ok = false;
        const practice = opts.praxis.practice(user);
        try {
          ok = practice ? await opts.praxis.checkLogin(practice, password) : false;
        } finally {
          admission.release();
        }
        if (!ok || !practice) {
          throttle.failure(ip);
          opts.logger.info({ user: user.slice(0, 256), client: ip }, 'praxis: sign-in failed');
          await new Promise((r) => setTimeout(r, opts.failureDelayMs));
          return problem(reply, 401, 'user name or password wrong');
        }
        const s = sessions.create(practice, password);
        opts.logger.info({ user: practice.address, client: ip }, 'praxis: signed in');
        return reply.header('set-cookie', cookie(s.id, Math.floor(opts.session.maxMs / 1000))).send({ user: practice.address, csrfToken: s.csrf });
      });

      api.get('/session', async (req) => ({ user: session(req).practice.address, csrfToken: session(req).csrf }));

      api.post('/logout', async (req, reply) => {
        sessions.delete(session(req).id);
        return reply.header('set-cookie', cookie('', 0)).status(204).send();
      });

      api.get('/directory', async (req) => {
        const q = req.query as Record<string, unknown>;
        const pick = (k: string) => (typeof q[k] === 'string' ? { [k]: q[k] as string } : {});
        return opts.praxis.search({ ...pick('q'), ...pick('name'), ...pick('place'), ...pick('profession'), ...pick('telematikId') });
      });

      api.post('/messages', { bodyLimit: opts.maxBodyBytes }, async (req, reply) => {
        const type = req.headers['content-type'] ?? '';
        const draft = Buffer.isBuffer(req.body) && /^multipart\/form-data/i.test(type) ? draftFromMultipart(req.body, type) : draftFromJson(req.body);
        const outcome = await guarded(req, (s) => opts.praxis.send(s.practice, s.password, draft));
        return reply.status(outcome.ok ? 200 : 422).send(outcome);
      });

      api.get('/messages', async (req) => {
        const page = Number((req.query as Record<string, unknown>).page ?? 1);
        if (!Number.isInteger(page) || page < 1 || page > 1_000_000) fail('page: a whole number from 1');
        return guarded(req, (s) => opts.praxis.listInbox(s.practice, s.password, page));
      });

      const uidOf = (req: FastifyRequest): string => {
        const uid = (req.params as { uid: string }).uid;
        if (!UID.test(uid)) fail('not a message id');
        return uid;
      };

      api.get('/messages/:uid', async (req) => {
        const uid = uidOf(req);
        return guarded(req, (s) => opts.praxis.openMessage(s.practice, s.password, uid));
      });

      api.get('/messages/:uid/attachments/:n', async (req, reply) => {
        const uid = uidOf(req);
        const nText = (req.params as { n: string }).n;
        if (!/^\d{1,4}$/.test(nText)) fail('not an attachment number');
        const a = await guarded(req, (s) => opts.praxis.attachment(s.practice, s.password, uid, Number(nText)));
        return reply
          .type(SAFE_TYPE.test(a.contentType) ? a.contentType : 'application/octet-stream')
          .header('content-disposition', attachmentDisposition(a.filename))
          .header('content-security-policy', "default-src 'none'; sandbox")
          .send(a.content);
      });

      api.delete('/messages/:uid', async (req, reply) => {
        const uid = uidOf(req);
        await guarded(req, (s) => opts.praxis.deleteMessage(s.practice, s.password, uid));
        return reply.status(204).send();
      });
    },
    { prefix: '/praxis/api' },
  );
}
