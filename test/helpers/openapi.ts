import assert from 'node:assert/strict';
import { OpenAPIBackend } from 'openapi-backend';
import { repositoryPath } from './env.js';

/** gematik's OpenAPI documents (api-kim), beside the repository in shared/. */
export const KIM_OPENAPI = repositoryPath('..', 'shared', 'specs', 'kim', 'api-kim', 'src', 'openapi');

/** gematik's documents the tests check against. */
export type KimDocument = 'AccountLimit.yaml' | 'ServiceInformation.yaml' | 'AccountManager.yaml';

const apis = new Map<string, Promise<OpenAPIBackend>>();

/**
 * The string formats gematik's documents use that Ajv does not know by itself (email,
 * date-time): checked, not just ignored with a warning per schema.
 */
const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i;
const customizeAjv = <A extends { addFormat(name: string, f: RegExp | { validate: (v: string) => boolean }): unknown }>(ajv: A): A => {
  ajv.addFormat('email', /^[^\s@]+@[^\s@]+$/);
  ajv.addFormat('date-time', { validate: (v: string) => RFC3339.test(v) && !Number.isNaN(Date.parse(v)) });
  return ajv;
};

type Responses = Record<string, { content?: Record<string, { schema?: unknown }> }>;

/**
 * One of gematik's documents, loaded by openapi-backend from its file, so its external $refs
 * (CommonSchemas.yaml) resolve beside it; strict: the document itself is validated too.
 *
 * openapi-backend validates a response body only against the media type keyed exactly
 * `application/json`, and gematik keys theirs `application/json; charset=utf-8`: with the
 * document as it is, no body would be checked at all. So the dereferenced document is loaded a
 * second time with each such schema also under `application/json` — the same schema object;
 * the response's Content-Type is held to the document's own key by assertConforms.
 */
export function kimApi(file: KimDocument): Promise<OpenAPIBackend> {
  let api = apis.get(file);
  if (!api) {
    api = (async () => {
      const original = await new OpenAPIBackend({ definition: `${KIM_OPENAPI}/${file}`, strict: true, quick: false, validate: true, customizeAjv: customizeAjv as never }).init();
      const doc = structuredClone(original.definition) as unknown as { paths: Record<string, Record<string, { responses?: Responses }>> };
      for (const item of Object.values(doc.paths)) {
        for (const op of Object.values(item)) {
          for (const res of Object.values(op.responses ?? {})) {
            for (const [type, media] of Object.entries(res.content ?? {})) {
              if (/^application\/json\s*;/i.test(type) && !res.content!['application/json']) res.content!['application/json'] = media;
            }
          }
        }
      }
      return new OpenAPIBackend({ definition: doc as never, strict: true, quick: false, validate: true, ajvOpts: { strict: false }, customizeAjv: customizeAjv as never }).init();
    })();
    apis.set(file, api);
  }
  return api;
}

export interface SeenResponse {
  status: number;
  contentType: string | null;
  text: string;
}

/**
 * A response checked against the operation in the document: its status is one the operation
 * declares (exactly, not by a default), its Content-Type is one of that response's media types
 * as written there, and its body validates against that media type's schema.
 */
export async function assertConforms(file: KimDocument, operationId: string, res: SeenResponse): Promise<unknown> {
  const api = await kimApi(file);
  const op = api.getOperation(operationId);
  assert.ok(op, `${file} has operation ${operationId}`);
  const declared = (op.responses ?? {}) as Responses;
  const spec = declared[String(res.status)];
  assert.ok(spec, `${operationId}: status ${res.status} is one of ${Object.keys(declared).join(', ')}`);
  // A response the document gives no content (204) has no body.
  if (!spec.content) {
    assert.equal(res.text, '', `${operationId} ${res.status}: no body`);
    return undefined;
  }
  // The document's own media types, not the alias kimApi added.
  const types = Object.keys(spec.content).filter((t) => t !== 'application/json' || Object.keys(spec.content!).length === 1);
  assert.ok(res.contentType !== null && types.includes(res.contentType.toLowerCase()), `${operationId} ${res.status}: Content-Type ${res.contentType} is one of ${types.join(', ')}`);
  const body: unknown = JSON.parse(res.text);
  const v = api.validateResponse(body, operationId, res.status);
  assert.ok(v.valid, `${operationId} ${res.status}: the body matches the schema: ${JSON.stringify(v.errors)} in ${res.text}`);
  return body;
}

/**
 * The request checked against the document: method and path (under the document's server
 * base, `base`) name the operation, and its parameters validate.
 */
export async function assertRequestConforms(file: KimDocument, operationId: string, base: string, req: { method: string; path: string; headers: Record<string, string>; body?: unknown }): Promise<void> {
  const api = await kimApi(file);
  assert.ok(req.path.startsWith(`${base}/`), `${req.path} is under the document's server ${base}/`);
  const path = req.path.slice(base.length);
  const op = api.matchOperation({ method: req.method, path, headers: req.headers });
  assert.equal(op?.operationId, operationId, `${req.method} ${req.path} is ${operationId}`);
  const v = api.validateRequest({ method: req.method, path, headers: req.headers, ...(req.body !== undefined ? { body: req.body as never } : {}) }, op);
  assert.ok(v.valid, `the request matches ${operationId}: ${JSON.stringify(v.errors)}`);
}
