import type { FastifyPluginAsync } from 'fastify';
import { problemErrorHandler } from './problem.js';

/** What the client module routes need: its configuration as a view, and its outcome ring when it runs in this process. */
export interface ClientModuleAdminView {
  /** Mandanten, client systems, workplaces, HBA user ids, accounts with their contexts (no key files, no passwords). */
  configuration(): object;
  /** Undefined when no client module runs in this process (it answers 404 then). */
  outcomes(): { capacity: number; list(q: { limit?: number; direction?: 'send' | 'receive' }): object[] } | undefined;
}

/**
 * The client module under /api/clientmodule (bearer token checked by registerAdminApi):
 *   GET /clientmodule                                    its call contexts from the configuration
 *   GET /clientmodule/outcomes?direction=send|receive&limit=   recent send/receive results, newest first
 * The outcomes live in the client module's memory: they exist here only when it runs in the
 * same process as this HTTP listener (npm start, `postamt start` with both roles).
 */
export function clientModuleAdminRoutes(view: ClientModuleAdminView): FastifyPluginAsync {
  return async (api) => {
    api.setErrorHandler(problemErrorHandler());
    api.get('/clientmodule', async () => ({ ...view.configuration(), outcomesHere: view.outcomes() !== undefined }));
    api.get<{ Querystring: { direction?: string; limit?: string } }>('/clientmodule/outcomes', async (req, reply) => {
      const { direction, limit } = req.query;
      if (direction !== undefined && direction !== 'send' && direction !== 'receive') throw Object.assign(new Error('direction must be send or receive'), { statusCode: 400 });
      if (limit !== undefined && !/^\d{1,6}$/.test(limit)) throw Object.assign(new Error('limit must be a whole number'), { statusCode: 400 });
      const ring = view.outcomes();
      if (!ring) {
        return reply
          .status(404)
          .type('application/problem+json')
          .send({ type: 'about:blank', title: 'no client module runs in this process: its recent outcomes are in its own log', status: 404 });
      }
      return { capacity: ring.capacity, items: ring.list({ ...(direction ? { direction } : {}), ...(limit ? { limit: Number(limit) } : {}) }) };
    });
  };
}
