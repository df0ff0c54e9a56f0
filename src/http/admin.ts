import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { existsSync, readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { FastifyInstance, FastifyPluginAsync, FastifyRequest } from 'fastify';

/**
 * The admin API lives under /api/ on the service's HTTP listener and requires
 * `Authorization: Bearer <token>`. Features (directory, mail-in, …) register their routes
 * as plugins through `registerAdminApi`; the token check is applied once, here.
 */
export interface AdminApiOptions {
  token: string;
  /**
   * A second way in: the console's session cookie (console/session-auth.ts cookieVerdict).
   * Consulted when the request has no Authorization header.
   */
  cookie?: (req: FastifyRequest) => { kind: 'none' } | { kind: 'ok' } | { kind: 'refused'; status: 401 | 403; title: string };
}

/** The configured admin token, or the one generated into dataDir/admin-token at first start. */
export function resolveAdminToken(configured: string | undefined, dataDir: string): string {
  if (configured) return configured;
  const path = join(dataDir, 'admin-token');
  if (existsSync(path)) return readFileSync(path, 'utf8').trim();
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(24).toString('base64url');
  writeFileSync(path, token + '\n', { mode: 0o600 });
  return token;
}

/** Compares digests so that neither length nor content leaks through timing. */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash('sha256').update(presented).digest();
  const b = createHash('sha256').update(expected).digest();
  return timingSafeEqual(a, b);
}

/**
 * Registers `plugins` under /api with the bearer check (or the console's cookie) in front. Call once, after every
 * feature has added its plugin to the list (fastify encapsulation keeps the hook inside /api).
 */
export async function registerAdminApi(app: FastifyInstance, opts: AdminApiOptions, plugins: FastifyPluginAsync[]): Promise<void> {
  await app.register(
    async (api) => {
      api.addHook('onRequest', async (req, reply) => {
        if (opts.cookie && req.headers.authorization === undefined) {
          reply.header('x-content-type-options', 'nosniff').header('referrer-policy', 'no-referrer').header('cache-control', 'no-store');
          const v = opts.cookie(req);
          if (v.kind === 'ok') return;
          if (v.kind === 'refused') return reply.status(v.status).type('application/problem+json').send({ type: 'about:blank', title: v.title, status: v.status });
        }
        const header = req.headers.authorization ?? '';
        const m = /^Bearer\s+(\S+)$/i.exec(header);
        if (!m || !tokenMatches(m[1]!, opts.token)) {
          return reply
            .status(401)
            .header('www-authenticate', 'Bearer realm="postamt-admin"')
            .type('application/problem+json')
            .send({ type: 'about:blank', title: 'admin API needs a valid bearer token', status: 401 });
        }
      });
      for (const p of plugins) await api.register(p);
    },
    { prefix: '/api' },
  );
}
