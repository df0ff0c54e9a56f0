import type { Selectable } from 'kysely';
import { AGENT_SECRET, type Database, type SecretBox } from '../store/index.js';
import type { Agent, MailinDb } from './types.js';

export type Row<T extends keyof Database> = Selectable<Database[T]>;

export function toDb(r: Row<'mailin_dbs'>): MailinDb {
  return { id: r.id, address: r.address, name: r.name, description: r.description, createdAt: r.created_at };
}

/** An agent row as the module uses it: the webhook secret opened (rows hold it sealed). */
export function toAgent(r: Row<'mailin_agents'>, secrets: SecretBox): Agent {
  return {
    id: r.id,
    dbId: r.db_id,
    name: r.name,
    trigger: r.trigger,
    kind: r.kind,
    url: r.url,
    secret: r.secret === null ? null : secrets.open(r.secret, AGENT_SECRET),
    scriptPath: r.script_path,
    timeoutMs: r.timeout_ms,
    onFailure: r.on_failure,
    includeRaw: r.include_raw !== 0,
    createdAt: r.created_at,
  };
}

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** The column value of a webhook secret: sealed, never plain (docs/mail-service.md, "Data directory and stored secrets"). */
export function sealSecret(secret: string | null, secrets: SecretBox): string | null {
  return secret === null ? null : secrets.seal(secret, AGENT_SECRET);
}

/** An agent as the CLI and the API show it: never the secret. */
export function showAgent(a: Agent, database: string): Record<string, unknown> {
  return {
    id: a.id,
    database,
    name: a.name,
    trigger: a.trigger,
    kind: a.kind,
    ...(a.kind === 'webhook' ? { url: a.url } : { script: a.scriptPath }),
    timeoutMs: a.timeoutMs,
    ...(a.trigger === 'before-delivery' ? { onFailure: a.onFailure } : {}),
    includeRaw: a.includeRaw,
    createdAt: iso(a.createdAt),
  };
}

export function showDb(d: MailinDb): Record<string, unknown> {
  return { address: d.address, name: d.name, description: d.description, createdAt: iso(d.createdAt) };
}

export function showDocument(r: Row<'mailin_documents'>, database: string): Record<string, unknown> {
  return {
    id: r.uid,
    database,
    receivedAt: iso(r.received_at),
    queueId: r.queue_id,
    size: r.size,
    folder: r.folder,
    envelope: { mailFrom: r.mail_from, rcptTo: JSON.parse(r.rcpt_to) as unknown },
    from: r.from_addr,
    to: JSON.parse(r.to_addrs) as unknown,
    subject: r.subject,
    date: iso(r.date),
    messageId: r.message_id,
    kim: JSON.parse(r.kim) as unknown,
    text: r.text_body,
    attachments: JSON.parse(r.attachments) as unknown,
  };
}

export function showJob(r: Row<'mailin_jobs'> & { uid: string; address: string }): Record<string, unknown> {
  return {
    id: r.id,
    database: r.address,
    agent: r.agent_id,
    document: r.uid,
    state: r.state,
    attempts: r.attempts,
    nextRunAt: r.state === 'queued' ? iso(r.next_run_at) : null,
    leaseUntil: r.state === 'running' ? iso(r.lease_until) : null,
    lastError: r.last_error,
    createdAt: iso(r.created_at),
    updatedAt: iso(r.updated_at),
  };
}

export function showRun(r: Row<'mailin_runs'> & { address: string }): Record<string, unknown> {
  return {
    id: r.id,
    database: r.address,
    agent: r.agent_id,
    document: r.document_uid,
    filed: r.document_id !== null,
    job: r.job_id,
    trigger: r.trigger,
    attempt: r.attempt,
    startedAt: iso(r.started_at),
    endedAt: iso(r.ended_at),
    durationMs: r.ended_at - r.started_at,
    outcome: r.outcome,
    httpStatus: r.http_status,
    error: r.error,
  };
}
