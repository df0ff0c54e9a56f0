import { RequestThread, ThreadSet } from '../core/index.js';
import { emptyDocument, type ParsedDocument, type PayloadContext } from './document.js';
import type { Agent, MailinHttpLimits, RunResult, Trigger } from './types.js';

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
      limits: MailinHttpLimits;
    };

/** A Uint8Array that came through postMessage, as the Buffer it was (no copy). */
export function asBuffer(u: Uint8Array): Buffer {
  return Buffer.isBuffer(u) ? u : Buffer.from(u.buffer, u.byteOffset, u.byteLength);
}

export function reviveDocument(doc: ParsedDocument): ParsedDocument {
  for (const a of doc.attachments) a.content = asBuffer(a.content);
  return doc;
}

/**
 * Worker threads for the mail-in module's CPU work: parsing a message into a document and the
 * whole of a webhook call (payload JSON, signature, HTTP exchange, answer). On a busy service
 * that work was a large share of the event loop's time per mail-in message, spent while SMTP sessions
 * waited; here it runs beside them. A thread that dies fails only the calls it held (a webhook
 * run then counts as failed and is retried or tempfailed as configured) and is replaced on the
 * next call.
 */
export class AgentThreads {
  private readonly threads: ThreadSet;

  /** `heapMb` bounds each thread's V8 heap: a message that would need more costs a thread, not the service. */
  constructor(size: number, heapMb = 1024) {
    this.threads = new ThreadSet(size, () => new RequestThread(WORKER_URL, { resourceLimits: { maxOldGenerationSizeMb: heapMb } }, 'mail-in thread'));
  }

  /**
   * As parseDocument: never fails. A message that takes its thread down (over the heap limit)
   * is still a document, with empty parsed fields, as one mailparser cannot read.
   */
  parse(raw: Buffer): Promise<ParsedDocument> {
    return this.call<ParsedDocument>({ op: 'parse', raw }).then(reviveDocument, () => emptyDocument());
  }

  /**
   * Runs a webhook agent in a thread. The thread keeps the agent's time limit itself; this
   * guard (a little longer) answers for a thread too busy or broken to.
   */
  webhook(agent: Agent, trigger: Trigger, doc: ParsedDocument, ctx: PayloadContext, limits: MailinHttpLimits): Promise<RunResult> {
    let timer: NodeJS.Timeout | undefined;
    const guard = new Promise<RunResult>((resolve) => {
      timer = setTimeout(() => resolve({ outcome: 'timeout', error: `no answer from the mail-in thread within ${agent.timeoutMs} ms` }), agent.timeoutMs + 1000);
    });
    const run = this.call<RunResult>({ op: 'webhook', agent, trigger, doc, ctx, limits }).catch((err: unknown): RunResult => ({ outcome: 'failed', error: (err as Error).message }));
    return Promise.race([run, guard]).finally(() => clearTimeout(timer));
  }

  close(): Promise<void> {
    return this.threads.close();
  }

  private call<T>(req: ThreadRequest): Promise<T> {
    try {
      return this.threads.pick().call<T>(req);
    } catch (err) {
      return Promise.reject(err as Error);
    }
  }
}
