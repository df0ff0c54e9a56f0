import Fastify, { type FastifyInstance } from 'fastify';
import type { AddressInfo } from 'node:net';
import { serverContextOptions, type Logger, type ServerPem } from '../core/index.js';
import type { Metrics } from '../core/index.js';

export interface HttpServerOptions {
  host: string;
  port: number;
  logger: Logger;
  metrics: Metrics;
  /** Answers /healthz: resolves when the service can do its work (store reachable). */
  health: () => Promise<{ ok: boolean; checks: Record<string, string> }>;
  tls?: ServerPem;
}

/**
 * The service's HTTP listener: /healthz, /metrics, and the admin API that later features
 * register as fastify plugins. Errors are problem JSON (RFC 9457), never stack traces.
 */
export async function createHttpServer(opts: HttpServerOptions): Promise<FastifyInstance> {
  const app = Fastify({
    logger: false,
    bodyLimit: 1024 * 1024,
    connectionTimeout: 60_000,
    requestTimeout: 60_000,
    ...(opts.tls ? { https: serverContextOptions(opts.tls) } : {}),
  });

  app.setErrorHandler((err: { statusCode?: number; message: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status >= 500) opts.logger.error({ url: req.url, err: err.message }, 'http handler failed');
    void reply
      .status(status)
      .type('application/problem+json')
      .send({ type: 'about:blank', title: status >= 500 ? 'Internal Server Error' : err.message, status });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).type('application/problem+json').send({ type: 'about:blank', title: `no route for ${req.method} ${req.url.split('?')[0]}`, status: 404 });
  });

  app.get('/healthz', async (_req, reply) => {
    const h = await opts.health().catch((err: Error) => ({ ok: false, checks: { error: err.message } }));
    return reply.status(h.ok ? 200 : 503).send({ status: h.ok ? 'ok' : 'unavailable', checks: h.checks });
  });

  app.get('/metrics', async (_req, reply) => {
    return reply.type('text/plain; version=0.0.4; charset=utf-8').send(opts.metrics.render());
  });

  app.addHook('onResponse', async (req, reply) => {
    opts.metrics.inc('postamt_http_requests_total', { status: String(reply.statusCode) }, 1, 'HTTP requests answered');
    opts.logger.debug({ method: req.method, url: req.url.split('?')[0], status: reply.statusCode }, 'http');
  });
  return app;
}

export async function listenHttp(app: FastifyInstance, host: string, port: number): Promise<AddressInfo> {
  await app.listen({ host, port });
  return app.server.address() as AddressInfo;
}
