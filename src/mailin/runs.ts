import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/index.js';
import { outcomeWord } from './runner.js';
import type { RunResult } from './types.js';

export interface RunRecord {
  agentId: number;
  dbId: number;
  documentId: number | null;
  documentUid: string;
  jobId: number | null;
  trigger: string;
  attempt: number;
  startedAt: number;
  endedAt: number;
  result: RunResult;
}

/** One row of run history. Errors are cut to 1000 characters: they are messages, not dumps. */
export async function recordRun(db: Kysely<Database> | Transaction<Database>, r: RunRecord): Promise<void> {
  await db
    .insertInto('mailin_runs')
    .values({
      agent_id: r.agentId,
      db_id: r.dbId,
      document_id: r.documentId,
      document_uid: r.documentUid,
      job_id: r.jobId,
      trigger: r.trigger,
      attempt: r.attempt,
      started_at: r.startedAt,
      ended_at: r.endedAt,
      outcome: outcomeWord(r.result),
      http_status: r.result.httpStatus ?? null,
      error: r.result.error?.slice(0, 1000) ?? (r.result.verdict?.action === 'reject' ? r.result.verdict.text : null),
    })
    .execute();
}
