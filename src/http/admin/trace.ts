import type { FastifyPluginAsync } from 'fastify';
import { z } from 'zod';
import { problemErrorHandler } from './problem.js';

/** What the trace routes need (service/trace.ts's MessageTrace fits). */
export interface TraceAdminView {
  list(q: { messageId?: string; address?: string; from?: number; to?: number; limit?: number; cursor?: string }): Promise<{ items: object[]; next?: string }>;
  get(id: string): Promise<object>;
}

/** A time: ISO 8601 with a zone (`2026-12-07T10:00:00Z`) or epoch milliseconds. */
const time = z
  .string()
  .trim()
  .min(1)
  .transform((v, ctx) => {
    const ms = /^\d{1,15}$/.test(v) ? Number(v) : /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(v) ? Date.parse(v) : NaN;
    if (!Number.isFinite(ms)) {
      ctx.addIssue({ code: 'custom', message: 'must be an ISO 8601 time with a zone (2026-12-07T10:00:00Z), a date, or epoch milliseconds' });
      return z.NEVER;
    }
    return ms;
  });

const listQuery = z
  .object({
    messageId: z.string().trim().min(1).max(998).optional(),
    address: z.string().trim().min(3).max(320).regex(/^[^\s@]+@[^\s@]+$/, 'must be a mail address').optional(),
    from: time.optional(),
    to: time.optional(),
    limit: z
      .string()
      .regex(/^\d{1,4}$/, 'must be a whole number from 1 to 500')
      .transform(Number)
      .refine((n) => n >= 1 && n <= 500, 'must be a whole number from 1 to 500')
      .optional(),
    cursor: z.string().regex(/^[A-Za-z0-9_-]{1,200}$/, 'is not one this API gave out').optional(),
  })
  .strict()
  .refine((q) => q.from === undefined || q.to === undefined || q.from < q.to, { message: 'from must be before to', path: ['from'] });

/** Queue ids are what a 250 answer named: letters and digits. */
const idParam = z.string().regex(/^[A-Za-z0-9]{1,64}$/, 'the trace id is the queue id of the 250 answer (letters and digits)');

function badRequest(err: z.ZodError): Error {
  const issue = err.issues[0]!;
  const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
  const text = issue.code === 'unrecognized_keys' ? `unknown query parameter ${issue.keys.join(', ')}` : `${where}${issue.message}`;
  return Object.assign(new Error(text), { statusCode: 400 });
}

/**
 * The message trace under /api/trace (bearer token checked by registerAdminApi), docs/trace.md:
 *   GET /trace?messageId=&address=&from=&to=&limit=&cursor=   messages, newest first, keyset paging
 *                                                              (`next` in the answer is the next page's cursor)
 *   GET /trace/:id                                             one message (its queue id) with its events in order
 * Query parameters are checked (400 problem JSON for anything wrong or unknown).
 */
export function traceAdminRoutes(trace: TraceAdminView): FastifyPluginAsync {
  return async (api) => {
    api.setErrorHandler(problemErrorHandler());
    api.get('/trace', async (req) => {
      const q = listQuery.safeParse(req.query ?? {});
      if (!q.success) throw badRequest(q.error);
      const { messageId, address, from, to, limit, cursor } = q.data;
      return trace.list({
        ...(messageId !== undefined ? { messageId } : {}),
        ...(address !== undefined ? { address } : {}),
        ...(from !== undefined ? { from } : {}),
        ...(to !== undefined ? { to } : {}),
        ...(limit !== undefined ? { limit } : {}),
        ...(cursor !== undefined ? { cursor } : {}),
      });
    });
    api.get<{ Params: { id: string } }>('/trace/:id', async (req) => {
      const id = idParam.safeParse(req.params.id);
      if (!id.success) throw badRequest(id.error);
      return trace.get(id.data);
    });
  };
}
