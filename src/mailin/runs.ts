import type { Kysely, Transaction } from 'kysely';
import type { Database } from '../store/index.js';
import { outcomeWord } from './runner.js';
import type { RunResult } from './types.js';
import type { MessageTrace } from '../service/trace.js';

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
  /** The accepted message's queue id: with a trace, the run is also a `mailin-run` event of its trace. */
  queueId?: string;
}

/** One row of run history. Errors are cut to 1000 characters: they are messages, not dumps. */
export async function recordRun(db: Kysely<Database> | Transaction<Database>, r: RunRecord, trace?: MessageTrace): Promise<void> {
  if (trace && r.queueId) {
    const detail = { agentId: r.agentId, dbId: r.dbId, documentUid: r.documentUid, trigger: r.trigger, attempt: r.attempt, outcome: outcomeWord(r.result), httpStatus: r.result.httpStatus ?? null, ms: r.endedAt - r.startedAt };
    trace.events(r.queueId, [{ kind: 'mailin-run', detail }]);
  }
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
