import type { FastifyInstance, FastifyReply } from 'fastify';
import fastifyStatic from '@fastify/static';
import { setConsoleHeaders } from './console/headers.js';
import { builtWebApp } from './console/web-root.js';

export interface WebAppOptions {
  /** The built app's folder (default: dist/web/<name> of this package). */
  root?: string;
  /** What a 503 names when the app was not built, e.g. "the console". */
  label: string;
}

function problem(reply: FastifyReply, status: number, title: string): FastifyReply {
  return reply.status(status).type('application/problem+json').send({ type: 'about:blank', title, status });
}

/**
 * Serves a front-end app of web/ (built into dist/web/<name>/) at /<name>/ with the strict CSP and
 * headers every browser page of Postamt has (headers.ts), or a 503 naming `npm run build` when it
 * was not built. The shell is static and holds no data, so it is served without a session.
 * Shared by the admin console and the Praxis-Postfach so both pages get the same headers.
 */
export async function serveWebApp(app: FastifyInstance, name: string, opts: WebAppOptions): Promise<void> {
  await app.register(async (scope) => {
    scope.addHook('onSend', async (_req, reply, payload) => {
      setConsoleHeaders(reply);
      reply.header('cache-control', reply.getHeader('cache-control') ?? 'no-store');
      return payload;
    });
    const root = opts.root ?? builtWebApp(name);
    if (root) {
      await scope.register(fastifyStatic, { root, prefix: `/${name}/`, index: ['index.html'], redirect: true, wildcard: true, cacheControl: false });
      scope.get(`/${name}`, async (_req, reply) => reply.redirect(`/${name}/`));
    } else {
      const notBuilt = async (_req: unknown, reply: FastifyReply) => problem(reply, 503, `${opts.label} was not built: run npm run build`);
      scope.get(`/${name}`, notBuilt);
      scope.get(`/${name}/`, notBuilt);
      scope.get(`/${name}/*`, notBuilt);
    }
  });
}
