import { parentPort } from 'node:worker_threads';
import { parseDocument, toPayload } from './document.js';
import { runWebhook } from './webhook.js';
import { asBuffer, reviveDocument, type ThreadReply, type ThreadRequest } from './agent-threads.js';

/** The thread side of AgentThreads: one request at a time is not required, each is awaited on its own. */
async function handle(req: ThreadRequest): Promise<unknown> {
  if (req.op === 'parse') return parseDocument(asBuffer(req.raw));
  const ctx = { ...req.ctx, raw: asBuffer(req.ctx.raw) };
  return runWebhook(req.agent, req.trigger, toPayload(reviveDocument(req.doc), ctx), req.limits);
}

parentPort!.on('message', (m: ThreadRequest & { id: number }) => {
  handle(m).then(
    (value) => parentPort!.postMessage({ id: m.id, ok: true, value } satisfies ThreadReply),
    (err: unknown) => parentPort!.postMessage({ id: m.id, ok: false, error: err instanceof Error ? err.message : String(err) } satisfies ThreadReply),
  );
});
