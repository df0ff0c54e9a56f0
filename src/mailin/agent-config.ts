import { constants } from 'node:fs';
import { access, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import { hostRefusal, httpTargetProblem, UsageError, type HostPort } from '../core/index.js';
import type { MailinConfig } from '../config/index.js';
import { ALLOW_HOSTS_KEY, targetPolicy, type OnFailure, type Trigger } from './types.js';

/** What an administrator gives to add an agent (CLI flags, API body). */
export interface AgentInput {
  trigger?: string;
  name?: string;
  webhook?: string;
  secret?: string;
  script?: string;
  timeoutMs?: number;
  onFailure?: string;
  includeRaw?: boolean;
}

export interface CheckedAgent {
  trigger: Trigger;
  name: string;
  kind: 'webhook' | 'script';
  url: string | null;
  secret: string | null;
  scriptPath: string | null;
  timeoutMs: number;
  onFailure: OnFailure;
  includeRaw: boolean;
}

/** Shortest webhook secret: HMAC keys shorter than this are guessable. */
export const MIN_SECRET_LENGTH = 16;

/**
 * Checks an agent definition and says exactly what is wrong (UsageError). The script file is
 * checked for being a readable file now, so a typo is refused here and not at the first mail.
 * A webhook's host is checked against the target policy as far as the URL tells (IP literals,
 * metadata names, `localhost`; `ownListeners` are this platform's listeners); the addresses a
 * name resolves to are checked at every call.
 */
export async function checkAgentInput(input: AgentInput, config: MailinConfig, cwd = process.cwd(), ownListeners: readonly HostPort[] = []): Promise<CheckedAgent> {
  for (const k of ['trigger', 'name', 'webhook', 'secret', 'script', 'onFailure'] as const) {
    if (input[k] !== undefined && typeof input[k] !== 'string') throw new UsageError(`${k} must be a string`);
  }
  if (input.timeoutMs !== undefined && typeof input.timeoutMs !== 'number') throw new UsageError('timeoutMs must be a number');
  if (input.includeRaw !== undefined && typeof input.includeRaw !== 'boolean') throw new UsageError('includeRaw must be true or false');
  const trigger = input.trigger;
  if (trigger !== 'before-delivery' && trigger !== 'after-delivery') throw new UsageError('--trigger must be before-delivery or after-delivery');
  const hasWebhook = input.webhook !== undefined && input.webhook !== '';
  const hasScript = input.script !== undefined && input.script !== '';
  if (hasWebhook === hasScript) throw new UsageError('an agent needs exactly one of --webhook URL (with --secret) or --script FILE');
  const timeoutMs = input.timeoutMs ?? config.defaultTimeoutMs;
  if (!Number.isInteger(timeoutMs) || timeoutMs < 100 || timeoutMs > config.maxTimeoutMs) {
    throw new UsageError(`--timeout-ms must be a whole number from 100 to ${config.maxTimeoutMs} (mailin.maxTimeoutMs)`);
  }
  if (input.onFailure !== undefined && input.onFailure !== 'tempfail' && input.onFailure !== 'accept') throw new UsageError('--on-failure must be tempfail or accept');
  if (input.onFailure !== undefined && trigger === 'after-delivery') {
    throw new UsageError('--on-failure applies to before-delivery agents; after-delivery agents are retried (mailin.retry)');
  }
  const name = input.name ?? '';
  if (name.length > 200 || /[\x00-\x1f]/.test(name)) throw new UsageError('--name must be printable and at most 200 characters');
  const common = { trigger: trigger as Trigger, name, timeoutMs, onFailure: (input.onFailure ?? 'tempfail') as OnFailure, includeRaw: input.includeRaw === true };
  if (hasWebhook) {
    const problem = httpTargetProblem(input.webhook!, config.webhook.allowHosts, ALLOW_HOSTS_KEY);
    if (problem) throw new UsageError(`--webhook: ${problem}`);
    const url = new URL(input.webhook!);
    const port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    const refusal = hostRefusal(url.hostname, port, targetPolicy(config.webhook, ownListeners));
    if (refusal) throw new UsageError(`--webhook: ${refusal}`);
    if (!input.secret) throw new UsageError(`a webhook agent needs --secret (at least ${MIN_SECRET_LENGTH} characters) to sign its requests`);
    if (input.secret.length < MIN_SECRET_LENGTH) throw new UsageError(`--secret must have at least ${MIN_SECRET_LENGTH} characters`);
    return { ...common, kind: 'webhook', url: input.webhook!, secret: input.secret, scriptPath: null };
  }
  if (input.secret !== undefined) throw new UsageError('--secret belongs to webhook agents');
  const path = resolve(cwd, input.script!);
  if (!/\.(m?js|cjs)$/.test(path)) throw new UsageError(`--script ${path}: expected a JavaScript module (.js, .mjs or .cjs)`);
  const st = await stat(path).catch(() => null);
  if (!st?.isFile()) throw new UsageError(`--script ${path}: no such file`);
  const readable = await access(path, constants.R_OK).then(
    () => true,
    () => false,
  );
  if (!readable) throw new UsageError(`--script ${path}: not readable`);
  return { ...common, kind: 'script', url: null, secret: null, scriptPath: path };
}
