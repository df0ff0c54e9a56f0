/**
 * Runs inside the worker thread of a script agent (script.ts starts it). Loads the
 * administrator's module, calls its default export with the document and a small API, and
 * posts the verdict back. Network access goes through the parent (`http`), which applies the
 * same destination rules as webhooks. This file is a worker entry point, not part of the
 * module's public face.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { pathToFileURL } from 'node:url';

interface Data {
  scriptPath: string;
  trigger: string;
  doc: unknown;
}

type Msg =
  | { type: 'http'; id: number; url: string; init: { method: string; headers: Record<string, string>; body?: string } }
  | { type: 'done'; verdict: unknown }
  | { type: 'error'; message: string };

const port = parentPort!;
const data = workerData as Data;
const headers: Record<string, string | null> = {};
let folder: string | undefined;
let final: Record<string, unknown> | undefined;
let nextId = 1;
const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

port.on('message', (m: { id: number; ok: boolean; answer?: unknown; error?: string }) => {
  const p = pending.get(m.id);
  if (!p) return;
  pending.delete(m.id);
  if (m.ok) p.resolve(m.answer);
  else p.reject(new Error(m.error ?? 'http call failed'));
});

function post(m: Msg): void {
  port.postMessage(m);
}

const api = Object.freeze({
  trigger: data.trigger,
  setHeader(name: string, value: string): void {
    headers[String(name)] = String(value);
  },
  removeHeader(name: string): void {
    headers[String(name)] = null;
  },
  file(name: string): void {
    folder = String(name);
  },
  drop(): void {
    final = { action: 'drop' };
  },
  reject(text: string, opts: { code?: number; enhanced?: string } = {}): void {
    final = { action: 'reject', text: String(text), code: opts.code, enhanced: opts.enhanced };
  },
  /** An HTTP request through the service (allow-list, no redirects, time limit): {status, headers, text}. */
  http(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<unknown> {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      post({ type: 'http', id, url: String(url), init: { method: init.method ?? 'GET', headers: init.headers ?? {}, ...(init.body !== undefined ? { body: String(init.body) } : {}) } });
    });
  },
});

try {
  const mod = (await import(pathToFileURL(data.scriptPath).href)) as { default?: unknown };
  if (typeof mod.default !== 'function') throw new Error('the script must export a default function (doc, api)');
  await (mod.default as (doc: unknown, a: typeof api) => unknown)(data.doc, api);
  const verdict = final ?? { action: 'accept', ...(Object.keys(headers).length ? { headers } : {}), ...(folder !== undefined ? { folder } : {}) };
  post({ type: 'done', verdict });
} catch (err) {
  post({ type: 'error', message: err instanceof Error ? err.message : String(err) });
}
