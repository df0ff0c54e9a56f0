import { randomBytes } from 'node:crypto';
import { sql, type Kysely } from 'kysely';
import type { Database, Dialect } from '../store/index.js';
import type { ParsedDocument } from './document.js';
import type { Agent } from './types.js';
import { backoffStepMs } from '../core/index.js';

/** An after-delivery job to enqueue with its document. */
export interface NewJob {
  agentId: number;
  documentId: number;
  /** The agent's time limit: a job leased at once holds its lease this long plus the margin. */
  timeoutMs: number;
}

export interface ClaimedJob {
  id: number;
  agentId: number;
  documentId: number;
  /** This attempt's number (1 for the first). */
  attempt: number;
  leaseToken: string;
  /**
   * A job leased in its delivery's transaction comes with what that delivery already had in
   * memory (agent, document, message, parse), so its first run reads and parses nothing again.
   */
  handedOver?: HandedOver;
}

/** What a delivery hands its worker along with a job leased to it (see ClaimedJob). */
export interface HandedOver {
  agent: Agent;
  doc: { id: number; dbId: number; uid: string; address: string; mailFrom: string; rcptTo: string[]; queueId: string; receivedAt: number };
  raw: Buffer;
  parsed: ParsedDocument;
}

export interface RetryPolicy {
  scheduleMs: number[];
  maxAttempts: number;
}

/** The wait after the n-th failed attempt (n from 1); the schedule's last step repeats. */
export function backoffMs(policy: RetryPolicy, failedAttempts: number): number {
  return backoffStepMs(policy.scheduleMs, failedAttempts);
}

/**
 * The durable queue of after-delivery runs, in the store. A job is claimed by setting a lease
 * (until the agent's time limit plus a margin) and a token; a node that dies holding a lease
 * lets it expire and any node claims the job again — at least once. Only the lease holder
 * (matching token) may finish a job, so a late answer after expiry changes nothing. On
 * PostgreSQL concurrent claimers skip each other's rows (FOR UPDATE SKIP LOCKED); SQLite has
 * one writer at a time, which makes the claiming UPDATE atomic by itself.
 */
export class JobQueue {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    private readonly policy: RetryPolicy,
    private readonly leaseMarginMs: number,
  ) {}

  /**
   * Enqueues jobs inside the delivery's transaction. The first `leaseLocally` are inserted
   * already claimed (attempt 1, lease and token) for this node's worker, which is handed them
   * after the COMMIT: no separate claiming COMMIT. Should the node die before settling them,
   * their lease expires and any node claims them like any other expired lease. The rest wait
   * as `queued` for a claim.
   */
  async enqueue(trx: Kysely<Database>, jobs: NewJob[], leaseLocally: number, now = Date.now()): Promise<ClaimedJob[]> {
    const leased: ClaimedJob[] = [];
    for (const [i, job] of jobs.entries()) {
      const local = i < leaseLocally;
      const token = local ? randomBytes(12).toString('hex') : null;
      const row = await trx
        .insertInto('mailin_jobs')
        .values({
          agent_id: job.agentId,
          document_id: job.documentId,
          state: local ? 'running' : 'queued',
          attempts: local ? 1 : 0,
          next_run_at: now,
          lease_until: local ? now + this.leaseMarginMs + job.timeoutMs : null,
          lease_token: token,
          last_error: null,
          created_at: now,
          updated_at: now,
        })
        .returning('id')
        .executeTakeFirstOrThrow();
      if (local) leased.push({ id: Number(row.id), agentId: job.agentId, documentId: job.documentId, attempt: 1, leaseToken: token! });
    }
    return leased;
  }

  async claim(max: number, now = Date.now()): Promise<ClaimedJob[]> {
    const token = randomBytes(12).toString('hex');
    const lock = this.dialect === 'postgres' ? sql`for update skip locked` : sql``;
    const rows = await sql<{ id: number; agent_id: number; document_id: number; attempts: number; lease_token: string }>`
      update mailin_jobs
         set state = 'running',
             attempts = attempts + 1,
             lease_token = ${token},
             lease_until = ${now + this.leaseMarginMs} + (select a.timeout_ms from mailin_agents a where a.id = mailin_jobs.agent_id),
             updated_at = ${now}
       where id in (
         select id from mailin_jobs
          where (state = 'queued' and next_run_at <= ${now})
             or (state = 'running' and lease_until < ${now})
          order by next_run_at, id
          limit ${max}
          ${lock})
      returning id, agent_id, document_id, attempts, lease_token`.execute(this.db);
    return rows.rows.map((r) => ({ id: Number(r.id), agentId: Number(r.agent_id), documentId: Number(r.document_id), attempt: Number(r.attempts), leaseToken: r.lease_token }));
  }

  /** When the next queued job is due (for the worker's sleep), or null when none waits. */
  async nextDue(): Promise<number | null> {
    const r = await this.db
      .selectFrom('mailin_jobs')
      .select((eb) => eb.fn.min('next_run_at').as('due'))
      .where('state', '=', 'queued')
      .executeTakeFirst();
    return r?.due === null || r?.due === undefined ? null : Number(r.due);
  }

  /**
   * Settles a claimed job in `trx` together with its run record: done, dead (given up or
   * refused) or back to the queue after the backoff. Returns false when the lease was lost.
   */
  async settle(
    trx: Kysely<Database>,
    job: ClaimedJob,
    result: { ok: true } | { ok: false; permanent: boolean; error: string },
    now = Date.now(),
  ): Promise<{ held: boolean; state: 'done' | 'dead' | 'queued' }> {
    let set: { state: 'done' | 'dead' | 'queued'; next_run_at?: number; last_error: string | null };
    if (result.ok) set = { state: 'done', last_error: null };
    else if (result.permanent || job.attempt >= this.policy.maxAttempts) set = { state: 'dead', last_error: result.error.slice(0, 1000) };
    else set = { state: 'queued', next_run_at: now + backoffMs(this.policy, job.attempt), last_error: result.error.slice(0, 1000) };
    const res = await trx
      .updateTable('mailin_jobs')
      .set({ ...set, lease_until: null, lease_token: null, updated_at: now })
      .where('id', '=', job.id)
      .where('lease_token', '=', job.leaseToken)
      .where('state', '=', 'running')
      .executeTakeFirst();
    return { held: Number(res.numUpdatedRows) === 1, state: set.state };
  }
}
