import type { FastifyPluginAsync } from 'fastify';
import type { Readable } from 'node:stream';
import { ADMIN_ERROR_STATUS, problemErrorHandler } from './problem.js';
import { PostamtError } from '../../core/index.js';

/** What the directory admin routes need (the directory's DirectoryAdmin fits). */
export interface DirectoryAdminView {
  list(q: { filter?: string; limit?: number; after?: string }): Promise<{ entries: unknown[]; next: string | null }>;
  get(key: string, withDer?: boolean): Promise<unknown>;
  add(input: never): Promise<unknown>;
  remove(key: string): Promise<unknown>;
  addCertificates(key: string, input: Buffer | string): Promise<unknown>;
  removeCertificate(key: string, fingerprint: string): Promise<number>;
  certificates(key: string): Promise<unknown>;
  certificateDetails(key: string, warnDays?: number): Promise<unknown>;
  import(source: AsyncIterable<Buffer>, opts: { replace?: boolean; skipInvalid?: boolean }): Promise<{ applied: boolean }>;
}

const STATUS: Record<string, number> = { ...ADMIN_ERROR_STATUS, 'too-large': 413 };
const LDIF_TYPES = ['text/ldif', 'text/x-ldif', 'application/ldif', 'text/plain'];
const PEM_TYPES = ['application/x-pem-file', 'application/pkix-cert'];

function flag(v: string | undefined): boolean {
  return v === '1' || v === 'true' || v === 'yes';
}

/**
 * The directory under /api/directory (bearer token checked by registerAdminApi):
 *   GET    /directory/entries?filter=&limit=&after=   list/search, JSON, cursor paging
 *   GET    /directory/entries/:key[?der=1]             one entry (key: telematikID, uid or DN)
 *   POST   /directory/entries                          add {uid?, attributes, certificates?}
 *   DELETE /directory/entries/:key
 *   GET    /directory/entries/:key/certificates
 *   GET    /directory/entries/:key/certificates/decoded?warnDays=30   kind (RSA/ECC, curve), names, validity, usage, expiry state
 *   POST   /directory/entries/:key/certificates        body: PEM (text) or DER
 *   DELETE /directory/entries/:key/certificates/:sha256
 *   POST   /directory/import[?replace=1&skipInvalid=1] body: LDIF, streamed; one transaction
 */
export function directoryAdminRoutes(dir: DirectoryAdminView): FastifyPluginAsync {
  return async (api) => {
    // LDIF bodies are streamed into the import, never buffered whole.
    api.addContentTypeParser(LDIF_TYPES, (_req, payload, done) => done(null, payload));
    api.addContentTypeParser([...PEM_TYPES, 'application/octet-stream'], { parseAs: 'buffer', bodyLimit: 1024 * 1024 }, (_req, body, done) => done(null, body));
    api.setErrorHandler(problemErrorHandler(STATUS));

    api.get<{ Querystring: { filter?: string; limit?: string; after?: string } }>('/directory/entries', async (req) => {
      const limit = req.query.limit === undefined ? undefined : Number(req.query.limit);
      return dir.list({ ...(req.query.filter !== undefined ? { filter: req.query.filter } : {}), ...(limit !== undefined ? { limit } : {}), ...(req.query.after ? { after: req.query.after } : {}) });
    });
    api.get<{ Params: { key: string }; Querystring: { der?: string } }>('/directory/entries/:key', async (req) => dir.get(req.params.key, flag(req.query.der)));
    api.post('/directory/entries', async (req, reply) => reply.status(201).send(await dir.add(req.body as never)));
    api.delete<{ Params: { key: string } }>('/directory/entries/:key', async (req, reply) => {
      await dir.remove(req.params.key);
      return reply.status(204).send();
    });
    api.get<{ Params: { key: string } }>('/directory/entries/:key/certificates', async (req) => dir.certificates(req.params.key));
    api.get<{ Params: { key: string }; Querystring: { warnDays?: string } }>('/directory/entries/:key/certificates/decoded', async (req) => {
      const w = req.query.warnDays;
      if (w !== undefined && !/^\d{1,4}$/.test(w)) throw new PostamtError('usage', 'warnDays must be a whole number of days (0 to 9999)');
      return dir.certificateDetails(req.params.key, w === undefined ? undefined : Number(w));
    });
    api.post<{ Params: { key: string } }>('/directory/entries/:key/certificates', async (req, reply) => {
      const body = req.body as unknown;
      let input: Buffer | string;
      if (Buffer.isBuffer(body)) input = body;
      else if (typeof body === 'string') input = body;
      else if (body && typeof body === 'object' && typeof (body as { pem?: unknown }).pem === 'string') input = (body as { pem: string }).pem;
      else if (body && typeof (body as Readable).read === 'function') {
        const chunks: Buffer[] = [];
        for await (const c of body as Readable) chunks.push(c as Buffer);
        input = Buffer.concat(chunks).toString('latin1');
      } else throw new PostamtError('usage', 'send the certificate as PEM text, DER, or {"pem": "..."}');
      return reply.status(201).send(await dir.addCertificates(req.params.key, input));
    });
    api.delete<{ Params: { key: string; sha256: string } }>('/directory/entries/:key/certificates/:sha256', async (req, reply) => {
      await dir.removeCertificate(req.params.key, req.params.sha256);
      return reply.status(204).send();
    });
    api.post<{ Querystring: { replace?: string; skipInvalid?: string } }>('/directory/import', async (req, reply) => {
      const body = req.body as unknown;
      if (!body || typeof (body as Readable).read !== 'function') throw new PostamtError('usage', 'send the LDIF with Content-Type: text/ldif');
      const result = await dir.import(body as AsyncIterable<Buffer>, { replace: flag(req.query.replace), skipInvalid: flag(req.query.skipInvalid) });
      return reply.status(result.applied ? 200 : 422).send(result);
    });
  };
}
