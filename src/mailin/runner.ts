import type { MailinConfig } from '../config/index.js';
import { AgentThreads } from './agent-threads.js';
import { parseDocument, toPayload, type ParsedDocument, type PayloadContext } from './document.js';
import { runScript, ScriptRuns } from './script.js';
import { sandboxCapabilities, scriptUser, type SandboxCapabilities } from './script-sandbox.js';
import type { ScriptLimits } from './script.js';
import { runWebhook } from './webhook.js';
import type { HostPort, Logger } from '../core/index.js';
import { targetPolicy, type Agent, type RunResult, type Trigger } from './types.js';

/** What a run needs to know about the message besides its parsed form. */
export type RunContext = Omit<PayloadContext, 'inlineMaxBytes' | 'rawMaxBytes'>;

const NO_RAW = Buffer.alloc(0);

/**
 * Parses messages and runs agents of either kind with the configured limits. With
 * `mailin.threads` > 0 parsing and webhook calls run in worker threads (agent-threads.ts);
 * with 0, on the event loop. Script agents always get a process of their own (script.ts).
 */
export class AgentRunner {
  private readonly threads: AgentThreads | null;
  private readonly sandbox: Promise<SandboxCapabilities>;
  private readonly scriptRuns = new ScriptRuns();
  private readonly scriptLimits: ScriptLimits;

  /** `ownListeners`: this process's listeners, filled in by the role as they start (never a target). */
  constructor(
    private readonly config: MailinConfig,
    private readonly ownListeners: readonly HostPort[] = [],
    logger?: Logger,
    sandbox: Promise<SandboxCapabilities> = sandboxCapabilities(),
  ) {
    // First: an unknown mailin.script.user fails the start before anything is running.
    this.scriptLimits = { ...config.script, runAs: scriptUser(config.script.user) };
    this.threads = config.threads > 0 ? new AgentThreads(config.threads, config.threadHeapMb) : null;
    this.sandbox = sandbox;
    // Said once at start: a host that cannot bound scripts as configured should not find out from an incident.
    void this.sandbox.then((caps) => {
      if (caps.missing.length) logger?.warn({ missing: caps.missing }, 'script agents run with fewer operating-system limits than intended');
    });
  }

  parse(raw: Buffer): Promise<ParsedDocument> {
    return this.threads ? this.threads.parse(raw) : parseDocument(raw);
  }

  run(agent: Agent, trigger: Trigger, doc: ParsedDocument, ctx: RunContext): Promise<RunResult> {
    // The raw message goes along (and into the payload) only when the agent asked and it fits.
    const withRaw = agent.includeRaw && ctx.raw.length <= this.config.webhook.rawMaxBytes;
    const http = {
      allowHosts: this.config.webhook.allowHosts,
      maxResponseBytes: this.config.webhook.maxResponseBytes,
      targets: targetPolicy(this.config.webhook, this.ownListeners),
    };
    const full: PayloadContext = {
      ...ctx,
      raw: withRaw ? ctx.raw : NO_RAW,
      inlineMaxBytes: this.config.webhook.inlineAttachmentMaxBytes,
      rawMaxBytes: withRaw ? this.config.webhook.rawMaxBytes : -1,
    };
    if (agent.kind === 'webhook') {
      if (this.threads) return this.threads.webhook(agent, trigger, doc, full, http);
      return runWebhook(agent, trigger, toPayload(doc, full), http);
    }
    return runScript(agent, trigger, toPayload(doc, full), this.scriptLimits, http, this.sandbox, this.scriptRuns);
  }

  close(): Promise<void> {
    this.scriptRuns.killAll();
    return this.threads?.close() ?? Promise.resolve();
  }
}

/** The word the run history stores for a result. */
export function outcomeWord(r: RunResult): string {
  if (r.outcome !== 'ok' || !r.verdict) return r.outcome;
  if (r.verdict.action === 'accept') return r.verdict.folder !== undefined ? 'file' : 'accept';
  return r.verdict.action;
}
