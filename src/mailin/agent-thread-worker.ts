import { answerRequests } from '../core/index.js';
import { parseDocument, toPayload } from './document.js';
import { runWebhook } from './webhook.js';
import { asBuffer, reviveDocument, type ThreadRequest } from './agent-threads.js';

/** The thread side of AgentThreads: requests run concurrently, each answered when done. */
answerRequests<ThreadRequest & { id: number }>((req) => {
  if (req.op === 'parse') return parseDocument(asBuffer(req.raw));
  const ctx = { ...req.ctx, raw: asBuffer(req.ctx.raw) };
  return runWebhook(req.agent, req.trigger, toPayload(reviveDocument(req.doc), ctx), req.limits);
});
