import type { FastifyPluginAsync } from 'fastify';
import { problemErrorHandler } from './problem.js';

/** What the relay queue routes need (service/relay's RelayQueueAdmin fits). */
export interface QueueAdminView {
  list(q: { domain?: string; limit?: number }): Promise<object[]>;
  retry(id?: number): Promise<number>;
  remove(id: number): Promise<void>;
  returnToSender(id: number): Promise<object>;
}

function id(v: string): number {
  if (!/^\d{1,15}$/.test(v)) throw Object.assign(new Error('the queue entry id must be a positive whole number'), { statusCode: 400 });
  return Number(v);
}

/**
 * The relay queue under /api/queue (bearer token checked by registerAdminApi):
 *   GET    /queue?domain=&limit=        queued recipients, oldest first
 *   POST   /queue/retry                 every waiting entry due now; /queue/:id/retry one
 *   POST   /queue/:id/bounce            return to sender: end the entry with a failure DSN to its sender
 *   DELETE /queue/:id                   drop an entry (no delivery, no DSN)
 */
export function queueAdminRoutes(queue: QueueAdminView): FastifyPluginAsync {
  return async (api) => {
    api.setErrorHandler(problemErrorHandler());
    api.get<{ Querystring: { domain?: string; limit?: string } }>('/queue', async (req) =>
      queue.list({ ...(req.query.domain ? { domain: req.query.domain } : {}), ...(req.query.limit ? { limit: id(req.query.limit) } : {}) }),
    );
    api.post('/queue/retry', async (_req, reply) => reply.status(202).send({ due: await queue.retry() }));
    api.post<{ Params: { id: string } }>('/queue/:id/retry', async (req, reply) => reply.status(202).send({ due: await queue.retry(id(req.params.id)) }));
    api.post<{ Params: { id: string } }>('/queue/:id/bounce', async (req) => queue.returnToSender(id(req.params.id)));
    api.delete<{ Params: { id: string } }>('/queue/:id', async (req, reply) => {
      await queue.remove(id(req.params.id));
      return reply.status(204).send();
    });
  };
}
