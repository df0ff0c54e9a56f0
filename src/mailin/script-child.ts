/**
 * The child process of one script agent run (script.ts spawns it; not part of the module's
 * public face). Reads the run — script path, trigger, document — as the first frame on fd 3,
 * loads the administrator's module, calls its default export with the document and a small
 * API, and sends the verdict back on fd 3. Network access goes through the parent (`http`),
 * which applies the webhooks' destination rules. The parent kills this process after the
 * verdict: whatever the script left running (timers, sockets) ends with it.
 *
 * Imports Node built-ins and frames.ts only: under the permission model this process may read
 * just those two files and the script's folder.
 */
import { Socket } from 'node:net';
import { pathToFileURL } from 'node:url';
import { encodeFrame, readFrames } from './frames.js';

interface Run {
  scriptPath: string;
  trigger: string;
  doc: unknown;
}

type Msg =
  | { type: 'http'; id: number; url: string; init: { method: string; headers: Record<string, string>; body?: string } }
  | { type: 'done'; verdict: unknown }
  | { type: 'error'; message: string; memory?: boolean };

const channel = new Socket({ fd: 3, readable: true, writable: true });
const headers: Record<string, string | null> = {};
let folder: string | undefined;
let final: Record<string, unknown> | undefined;
let nextId = 1;
const pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();

function post(m: Msg): void {
  channel.write(encodeFrame(m));
}

const api = {
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
  /** An HTTP request through the service (target policy, allow-list, no redirects, time limit): {status, headers, text}. */
  http(url: string, init: { method?: string; headers?: Record<string, string>; body?: string } = {}): Promise<unknown> {
    const id = nextId++;
    return new Promise((resolve, reject) => {
      pending.set(id, { resolve, reject });
      post({ type: 'http', id, url: String(url), init: { method: String(init.method ?? 'GET'), headers: { ...init.headers }, ...(init.body !== undefined ? { body: String(init.body) } : {}) } });
    });
  },
};

/**
 * Memory the OS or V8 refused (RLIMIT_DATA, the heap): the run's outcome is `memory`, not
 * `failed`. A Buffer the OS refuses is "Array buffer allocation failed" on Node 20 and
 * ERR_MEMORY_ALLOCATION_FAILED "Failed to allocate memory" on Node 24.
 */
function isMemoryError(err: unknown): boolean {
  if (!(err instanceof RangeError)) return false;
  return (err as { code?: unknown }).code === 'ERR_MEMORY_ALLOCATION_FAILED' || /allocation failed|failed to allocate|out of memory/i.test(err.message);
}

async function run(r: Run): Promise<void> {
  try {
    const mod = (await import(pathToFileURL(r.scriptPath).href)) as { default?: unknown };
    if (typeof mod.default !== 'function') throw new Error('the script must export a default function (doc, api)');
    await (mod.default as (doc: unknown, a: unknown) => unknown)(r.doc, Object.freeze({ ...api, trigger: r.trigger }));
    const verdict = final ?? { action: 'accept', ...(Object.keys(headers).length ? { headers } : {}), ...(folder !== undefined ? { folder } : {}) };
    post({ type: 'done', verdict });
  } catch (err) {
    post({ type: 'error', message: err instanceof Error ? err.message : String(err), ...(isMemoryError(err) ? { memory: true } : {}) });
  }
}

let started = false;
readFrames(
  channel,
  // The parent sends the document (its own payload, bounded by mailin.webhook limits) and answers.
  Number.MAX_SAFE_INTEGER,
  (m) => {
    if (!started) {
      started = true;
      void run(m as Run);
      return;
    }
    const a = m as { id: number; ok: boolean; answer?: unknown; error?: string };
    const p = pending.get(a.id);
    if (!p) return;
    pending.delete(a.id);
    if (a.ok) p.resolve(a.answer);
    else p.reject(new Error(a.error ?? 'http call failed'));
  },
  () => process.exit(70),
);
// A script's own failure outside its promise chain ends the run with its message.
process.on('uncaughtException', (err) => {
  post({ type: 'error', message: err instanceof Error ? err.message : String(err), ...(isMemoryError(err) ? { memory: true } : {}) });
});
channel.on('close', () => process.exit(0));
