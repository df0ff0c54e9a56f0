/** The shapes the mail-in module passes around (rows are in store/schema.ts). */
import type { HostPort, TargetPolicy } from '../core/index.js';

export type Trigger = 'before-delivery' | 'after-delivery';
export type AgentKind = 'webhook' | 'script';
export type OnFailure = 'tempfail' | 'accept';

/** The rules (from mailin.webhook) for the module's HTTP calls: webhooks and scripts' `api.http`. */
export interface MailinHttpLimits {
  /** Host names or IP literals that may be called; empty: any. */
  allowHosts: string[];
  maxResponseBytes: number;
  /** Which addresses may be connected to (core/target-policy.ts). */
  targets: TargetPolicy;
}

/** How refusals name the allow-list. */
export const ALLOW_HOSTS_KEY = 'mailin.webhook.allowHosts';

/** How refusals name the target switches. */
export const TARGET_KEYS = { private: 'mailin.webhook.allowPrivateTargets', loopback: 'mailin.webhook.allowLoopbackTargets' } as const;

/** The target policy of the module's HTTP calls, with this process's listeners as they are now. */
export function targetPolicy(webhook: { allowPrivateTargets: boolean; allowLoopbackTargets: boolean }, ownListeners: readonly HostPort[]): TargetPolicy {
  return { allowPrivate: webhook.allowPrivateTargets, allowLoopback: webhook.allowLoopbackTargets, ownListeners: [...ownListeners], keys: TARGET_KEYS };
}

export interface MailinDb {
  id: number;
  address: string;
  name: string;
  description: string;
  createdAt: number;
}

export interface Agent {
  id: number;
  dbId: number;
  name: string;
  trigger: Trigger;
  kind: AgentKind;
  url: string | null;
  secret: string | null;
  scriptPath: string | null;
  timeoutMs: number;
  onFailure: OnFailure;
  includeRaw: boolean;
  createdAt: number;
}

/** Header changes an agent asks for: a value sets the field (replacing any), null removes it. */
export type HeaderChanges = Record<string, string | null>;

/**
 * What an agent decided. `accept` may carry header changes and a folder; `drop` files nothing
 * and answers 250; `reject` answers the SMTP client with the agent's code and text.
 */
export type Verdict =
  | { action: 'accept'; headers?: HeaderChanges; folder?: string }
  | { action: 'drop' }
  | { action: 'reject'; code: number; enhanced: string; text: string };

/**
 * One run's result. `ok` carries the verdict; the failures are sorted by cause so that the run
 * history says what happened: `failed` (unreachable, 5xx, a throw), `timeout`, `memory`
 * (a script over its heap limit), `refused` (an after-delivery 4xx: do not retry).
 */
export interface RunResult {
  outcome: 'ok' | 'failed' | 'timeout' | 'memory' | 'refused';
  verdict?: Verdict;
  httpStatus?: number;
  error?: string;
}

/** The parsed message as agents see it (the webhook's JSON body, the script's `doc`). */
export interface DocumentPayload {
  id: string;
  database: string;
  envelope: { mailFrom: string; rcptTo: string[]; queueId: string; receivedAt: string };
  headers: Record<string, string[]>;
  subject: string;
  from: string;
  to: string[];
  cc: string[];
  date: string | null;
  messageId: string;
  kim: Record<string, string>;
  text: string;
  html: string | null;
  attachments: Array<{ name: string; type: string; size: number; sha256: string; content?: string }>;
  raw?: string;
}
