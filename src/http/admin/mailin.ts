import type { FastifyPluginAsync } from 'fastify';
import { problemErrorHandler } from './problem.js';

type Json = Record<string, unknown>;
interface Page {
  items: Json[];
  next: string | null;
}

/** What the mail-in admin routes need (mailin's MailinAdmin fits). */
export interface MailinAdminView {
  listDatabases(): Promise<Json[]>;
  addDatabase(input: { address: string; name: string; description?: string }): Promise<Json>;
  removeDatabase(address: string): Promise<{ documents: number }>;
  documents(address: string, q: { since?: string; after?: string; limit?: number }): Promise<Page>;
  document(address: string, uid: string): Promise<{ doc: Json; raw(): Promise<Buffer> }>;
  listAgents(address?: string): Promise<Json[]>;
  addAgent(address: string, input: never): Promise<Json>;
  removeAgent(id: number): Promise<void>;
  jobs(q: { state?: string; address?: string; limit?: number }): Promise<Json[]>;
  retryJob(id: number): Promise<void>;
  runs(q: { address?: string; agent?: number; after?: string; limit?: number }): Promise<Page>;
}

function num(v: string | undefined, what: string): number | undefined {
  if (v === undefined || v === '') return undefined;
  if (!/^\d{1,15}$/.test(v)) throw Object.assign(new Error(`${what} must be a positive whole number`), { statusCode: 400 });
  return Number(v);
}

/**
 * Mail-in databases under /api/mailin (bearer token checked by registerAdminApi):
 *   GET    /mailin                                   databases
 *   POST   /mailin                                   add {address, name, description?}
 *   DELETE /mailin/:db                               remove with its documents
 *   GET    /mailin/:db/documents?since=&after=&limit=   documents, oldest first, cursor paging
 *   GET    /mailin/:db/documents/:id                 one document; /raw: the message (message/rfc822)
 *   GET    /mailin/:db/agents   POST /mailin/:db/agents {trigger, webhook|script, secret, timeoutMs, onFailure, name, includeRaw}
 *   DELETE /mailin/agents/:id
 *   GET    /mailin/jobs?state=&db=&limit=            queued/running/dead jobs (state=done for finished)
 *   POST   /mailin/jobs/:id/retry
 *   GET    /mailin/runs?db=&agent=&after=&limit=     run history, newest first
 * `:db` is the database's address.
 */
export function mailinAdminRoutes(mailin: MailinAdminView): FastifyPluginAsync {
  return async (api) => {
    api.setErrorHandler(problemErrorHandler());

    // Static segments first: find-my-way prefers them over :db anyway, this is for the reader.
    api.get<{ Querystring: { state?: string; db?: string; limit?: string } }>('/mailin/jobs', async (req) =>
      mailin.jobs({
        ...(req.query.state ? { state: req.query.state } : {}),
        ...(req.query.db ? { address: req.query.db } : {}),
        ...(req.query.limit ? { limit: num(req.query.limit, 'limit')! } : {}),
      }),
    );
    api.post<{ Params: { id: string } }>('/mailin/jobs/:id/retry', async (req, reply) => {
      await mailin.retryJob(num(req.params.id, 'job id')!);
      return reply.status(202).send({ id: Number(req.params.id), state: 'queued' });
    });
    api.get<{ Querystring: { db?: string; agent?: string; after?: string; limit?: string } }>('/mailin/runs', async (req) =>
      mailin.runs({
        ...(req.query.db ? { address: req.query.db } : {}),
        ...(req.query.agent ? { agent: num(req.query.agent, 'agent')! } : {}),
        ...(req.query.after ? { after: req.query.after } : {}),
        ...(req.query.limit ? { limit: num(req.query.limit, 'limit')! } : {}),
      }),
    );
    api.delete<{ Params: { id: string } }>('/mailin/agents/:id', async (req, reply) => {
      await mailin.removeAgent(num(req.params.id, 'agent id')!);
      return reply.status(204).send();
    });

    api.get('/mailin', async () => mailin.listDatabases());
    api.post('/mailin', async (req, reply) => {
      const b = (req.body ?? {}) as { address?: unknown; name?: unknown; description?: unknown };
      return reply.status(201).send(await mailin.addDatabase({ address: String(b.address ?? ''), name: String(b.name ?? ''), ...(b.description !== undefined ? { description: String(b.description) } : {}) }));
    });
    api.delete<{ Params: { db: string } }>('/mailin/:db', async (req, reply) => {
      await mailin.removeDatabase(req.params.db);
      return reply.status(204).send();
    });
    api.get<{ Params: { db: string }; Querystring: { since?: string; after?: string; limit?: string } }>('/mailin/:db/documents', async (req) =>
      mailin.documents(req.params.db, {
        ...(req.query.since ? { since: req.query.since } : {}),
        ...(req.query.after ? { after: req.query.after } : {}),
        ...(req.query.limit ? { limit: num(req.query.limit, 'limit')! } : {}),
      }),
    );
    api.get<{ Params: { db: string; id: string } }>('/mailin/:db/documents/:id', async (req) => (await mailin.document(req.params.db, req.params.id)).doc);
    api.get<{ Params: { db: string; id: string } }>('/mailin/:db/documents/:id/raw', async (req, reply) => {
      const d = await mailin.document(req.params.db, req.params.id);
      return reply.type('message/rfc822').send(await d.raw());
    });
    api.get<{ Params: { db: string } }>('/mailin/:db/agents', async (req) => mailin.listAgents(req.params.db));
    api.post<{ Params: { db: string } }>('/mailin/:db/agents', async (req, reply) => {
      const b = (req.body ?? {}) as Record<string, unknown>;
      if (typeof b !== 'object' || Array.isArray(b)) throw Object.assign(new Error('the body must be a JSON object'), { statusCode: 400 });
      // A script path comes from the administrator's own file system; relative paths are refused
      // because the service's working directory is not the caller's.
      if (typeof b.script === 'string' && !b.script.startsWith('/')) throw Object.assign(new Error('script must be an absolute path on the service host'), { statusCode: 400 });
      return reply.status(201).send(await mailin.addAgent(req.params.db, b as never));
    });
  };
}
