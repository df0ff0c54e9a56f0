import type { FastifyPluginAsync } from 'fastify';
import { problemErrorHandler } from './problem.js';

/** What the Konnektor route needs: one status report (roles/konnektor-status.ts gives it from the configuration). */
export interface KonnektorAdminView {
  status(opts: { warnDays?: number }): Promise<object>;
}

/**
 * The practice's Konnektor under /api/konnektor (bearer token checked by registerAdminApi):
 *   GET /konnektor/status?warnDays=30    cards, certificates and their expiry, PIN status, service versions
 */
export function konnektorAdminRoutes(view: KonnektorAdminView): FastifyPluginAsync {
  return async (api) => {
    api.setErrorHandler(problemErrorHandler());
    api.get<{ Querystring: { warnDays?: string } }>('/konnektor/status', async (req) => {
      const w = req.query.warnDays;
      if (w !== undefined && !/^\d{1,4}$/.test(w)) throw Object.assign(new Error('warnDays must be a whole number of days'), { statusCode: 400 });
      return view.status(w === undefined ? {} : { warnDays: Number(w) });
    });
  };
}
