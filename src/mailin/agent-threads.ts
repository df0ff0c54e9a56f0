import { Worker } from 'node:worker_threads';
import { emptyDocument, type ParsedDocument, type PayloadContext } from './document.js';
import type { HttpCallLimits } from './http-call.js';
import type { Agent, RunResult, Trigger } from './types.js';

const WORKER_URL = new URL('./agent-thread-worker.js', import.meta.url);

/** What crosses to a thread; Buffers arrive there (and back here) as plain Uint8Arrays. */
export type ThreadRequest =
  | { op: 'parse'; raw: Uint8Array }
  | {
      op: 'webhook';
      agent: Agent;
      trigger: Trigger;
      doc: ParsedDocument;
      ctx: PayloadContext;
      limits: Omit<HttpCallLimits, 'timeoutMs'>;
    };

export type ThreadReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

/** A Uint8Array that came through postMessage, as the Buffer it was (no copy). */
export function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

export function reviveDocument(doc: ParsedDocument): ParsedDocument {
  for (const a of doc.attachments) a.content = asBuffer(a.content);
  return doc;
}

class AgentThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private nextId = 0;
  dead = false;

  constructor(heapMb: number) {
    this.worker = new Worker(WORKER_URL, { resourceLimits: { maxOldGenerationSizeMb: heapMb } });
    // Only pending calls keep the process alive, not an idle thread.
    this.worker.unref();
    this.worker.on('message', (m: ThreadReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(m.error));
    });
    const fail = (why: string) => {
      this.dead = true;
      for (const p of this.pending.values()) p.reject(new Error(why));
      this.pending.clear();
    };
    this.worker.on('error', (err) => fail(`the mail-in thread failed: ${err.message}`));
    this.worker.on('exit', (code) => fail(`the mail-in thread stopped (exit code ${code})`));
  }

  get load(): number {
    return this.pending.size;
  }

  call<T>(req: ThreadRequest, transfer: ArrayBuffer[] = []): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      if (this.pending.size === 1) this.worker.ref();
      this.worker.postMessage({ id, ...req }, transfer);
    });
  }

  terminate(): Promise<number> {
    this.dead = true;
    return this.worker.terminate();
  }
}

/**
 * Worker threads for the mail-in module's CPU work: parsing a message into a document and the
 * whole of a webhook call (payload JSON, signature, HTTP exchange, answer). On a busy service
 * that work was a third of the event loop's time per mail-in message, spent while SMTP sessions
 * waited; here it runs beside them. A thread that dies fails only the calls it held (a webhook
 * run then counts as failed and is retried or tempfailed as configured) and is replaced on the
 * next call.
 */
export class AgentThreads {
  private readonly threads: Array<AgentThread | null>;
  private closed = false;

  /** `heapMb` bounds each thread's V8 heap: a message that would need more costs a thread, not the service. */
  constructor(
    size: number,
    private readonly heapMb = 1024,
  ) {
    this.threads = Array.from({ length: size }, () => null);
  }

  get size(): number {
    return this.threads.length;
  }

  /**
   * As parseDocument: never fails. A message that takes its thread down (over the heap limit)
   * is still a document, with empty parsed fields, as one mailparser cannot read.
   */
  parse(raw: Buffer): Promise<ParsedDocument> {
    return this.pick()
      .call<ParsedDocument>({ op: 'parse', raw })
      .then(reviveDocument, () => emptyDocument());
  }

  /**
   * Runs a webhook agent in a thread. The thread keeps the agent's time limit itself; this
   * guard (a little longer) answers for a thread too busy or broken to.
   */
  webhook(agent: Agent, trigger: Trigger, doc: ParsedDocument, ctx: PayloadContext, limits: Omit<HttpCallLimits, 'timeoutMs'>): Promise<RunResult> {
    let timer: NodeJS.Timeout | undefined;
    const guard = new Promise<RunResult>((resolve) => {
      timer = setTimeout(() => resolve({ outcome: 'timeout', error: `no answer from the mail-in thread within ${agent.timeoutMs} ms` }), agent.timeoutMs + 1000);
    });
    const run = this.pick()
      .call<RunResult>({ op: 'webhook', agent, trigger, doc, ctx, limits })
      .catch((err: unknown): RunResult => ({ outcome: 'failed', error: (err as Error).message }));
    return Promise.race([run, guard]).finally(() => clearTimeout(timer));
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.map((t) => t?.terminate()));
  }

  /** The least loaded live thread; a dead one is replaced. */
  private pick(): AgentThread {
    if (this.closed) throw new Error('the mail-in threads are closed');
    let best = -1;
    for (let i = 0; i < this.threads.length; i++) {
      const t = this.threads[i];
      if (!t || t.dead) {
        this.threads[i] = new AgentThread(this.heapMb);
        return this.threads[i]!;
      }
      if (best < 0 || t.load < this.threads[best]!.load) best = i;
    }
    return this.threads[best]!;
  }
}
