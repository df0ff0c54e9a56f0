import type { MailinConfig } from '../config/index.js';
import { runScript } from './script.js';
import { runWebhook } from './webhook.js';
import type { Agent, DocumentPayload, RunResult, Trigger } from './types.js';

/** Runs an agent of either kind with the configured limits. */
export class AgentRunner {
  constructor(private readonly config: MailinConfig) {}

  run(agent: Agent, trigger: Trigger, payload: DocumentPayload): Promise<RunResult> {
    const http = { allowHosts: this.config.webhook.allowHosts, maxResponseBytes: this.config.webhook.maxResponseBytes };
    return agent.kind === 'webhook' ? runWebhook(agent, trigger, payload, http) : runScript(agent, trigger, payload, this.config.script, http);
  }

  /** Raw MIME goes only to agents that asked for it, and only up to the configured size. */
  rawLimit(agent: Agent): number {
    return agent.includeRaw ? this.config.webhook.rawMaxBytes : -1;
  }

  get inlineMaxBytes(): number {
    return this.config.webhook.inlineAttachmentMaxBytes;
  }
}

/** The word the run history stores for a result. */
export function outcomeWord(r: RunResult): string {
  if (r.outcome !== 'ok' || !r.verdict) return r.outcome;
  if (r.verdict.action === 'accept') return r.verdict.folder !== undefined ? 'file' : 'accept';
  return r.verdict.action;
}
