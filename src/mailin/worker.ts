import type { Kysely, Transaction } from 'kysely';
import type { MessageTrace } from '../service/trace.js';
import { GroupCommit, type BlobStore, type Database, type SecretBox } from '../store/index.js';
import type { Logger } from '../core/index.js';
import { errorMessage, WorkLoop } from '../core/index.js';
import type { ClaimedJob, HandedOver, JobQueue } from './queue.js';
import { recordRun } from './runs.js';
import { toAgent } from './rows.js';
import type { AgentRunner } from './runner.js';
import type { LocalWorker } from './router.js';
import type { RunResult } from './types.js';

export interface WorkerOptions {
  concurrency: number;
  pollIntervalMs: number;
}

/**
 * Runs after-delivery jobs up to `concurrency` at once, settling each job and recording its run
 * in one transaction. Jobs of deliveries in this process arrive already leased to it (claimed in
 * the delivery's own transaction, see JobQueue.enqueue) while it has room; the others it claims:
 * when woken (a delivery left jobs queued, a full claim may have left more) and otherwise every
 * `pollIntervalMs` (mail taken by other nodes, retries coming due, expired leases).
 */
export class MailinWorker implements LocalWorker {
  /** The message trace, when on (set by createMailin): runs become `mailin-run` events. */
  trace: MessageTrace | undefined;
  private readonly loop: WorkLoop<ClaimedJob>;
  /** Settled jobs, for tests and metrics: called after each job's transaction commits. */
  onSettled?: (job: ClaimedJob, state: string) => void;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly blobs: BlobStore,
    private readonly secrets: SecretBox,
    private readonly queue: JobQueue,
    private readonly runner: AgentRunner,
    opts: WorkerOptions,
    private readonly logger: Logger,
    /**
     * Settling a job (its state and its run record) is a small write; done one transaction
     * each, the COMMIT's fsync would bound the queue's throughput and, on SQLite, take turns
     * with the deliveries' COMMITs. So jobs are settled through the service's shared group
     * commit: jobs finishing together and the deliveries coming in meanwhile share one COMMIT,
     * each in its own savepoint.
     */
    private readonly commits: GroupCommit = new GroupCommit(db),
  ) {
    this.loop = new WorkLoop(opts, {
      claim: (max) => this.queue.claim(max),
      run: (job) => this.runJob(job),
      failed: (err, job) =>
        job
          ? this.logger.error({ job: job.id, err: errorMessage(err) }, 'mail-in job failed unexpectedly')
          : this.logger.warn({ err: errorMessage(err) }, 'mail-in queue: claiming jobs failed'),
    });
  }

  start(): void {
    this.loop.start();
  }

  /** Room for `n` jobs leased in a delivery's transaction; 0 when stopped, not started or full. */
  reserve(n: number): number {
    return this.loop.reserve(n);
  }

  release(n: number): void {
    this.loop.release(n);
  }

  /**
   * Runs jobs leased to this node in a committed delivery. Stopped meanwhile: they are left
   * alone and run again, by any node, once their lease expires.
   */
  adopt(jobs: ClaimedJob[]): void {
    this.loop.adopt(jobs);
  }

  wake(): void {
    this.loop.wake();
  }

  /**
   * Stops claiming and waits up to `graceMs` for the runs in progress. A run still going after
   * that is abandoned: its lease expires and the job runs again (at least once, never lost).
   */
  close(graceMs = 10_000): Promise<void> {
    return this.loop.close(graceMs);
  }

  private async runJob(job: ClaimedJob): Promise<void> {
    const found = job.handedOver ?? (await this.load(job));
    // Agent or document removed since (the job row goes with them): nothing to do.
    if (!found) return;
    const { agent, doc } = found;
    const startedAt = Date.now();
    let result: RunResult;
    try {
      const raw = found.raw ?? (await this.blobs.get(found.blob.hash, found.blob.size));
      const parsed = found.parsed ?? (await this.runner.parse(raw));
      result = await this.runner.run(agent, 'after-delivery', parsed, {
        uid: doc.uid,
        database: doc.address,
        mailFrom: doc.mailFrom,
        rcptTo: doc.rcptTo,
        queueId: doc.queueId,
        receivedAt: doc.receivedAt,
        raw,
      });
    } catch (err) {
      result = { outcome: 'failed', error: errorMessage(err) };
    }
    const endedAt = Date.now();
    const v = result.outcome === 'ok' ? result.verdict : undefined;
    // A 4xx (reject) from an after-delivery agent means "do not try again".
    const settleAs =
      v && v.action !== 'reject'
        ? ({ ok: true } as const)
        : { ok: false as const, permanent: v?.action === 'reject', error: v?.action === 'reject' ? `refused: ${v.text}` : (result.error ?? result.outcome) };
    const settled = await this.commits.submit(async (trx) => {
      const s = await this.queue.settle(trx, job, settleAs, endedAt);
      await recordRun(trx, {
        agentId: agent.id,
        dbId: doc.dbId,
        documentId: doc.id,
        documentUid: doc.uid,
        jobId: job.id,
        trigger: 'after-delivery',
        attempt: job.attempt,
        startedAt,
        endedAt,
        result: s.held ? result : { ...result, error: `${result.error ? result.error + '; ' : ''}lease lost: result discarded` },
        queueId: doc.queueId,
      }, this.trace);
      // After delivery the document exists; an agent may still file it into a folder.
      if (s.held && v?.action === 'accept' && v.folder !== undefined) {
        await trx.updateTable('mailin_documents').set({ folder: v.folder }).where('id', '=', doc.id).execute();
      }
      return s;
    });
    this.logger.info({ job: job.id, agent: agent.id, mailin: doc.address, attempt: job.attempt, outcome: result.outcome, httpStatus: result.httpStatus, state: settled.state, ms: endedAt - startedAt }, 'after-delivery agent');
    this.onSettled?.(job, settled.held ? settled.state : 'lost');
  }

  /** A claimed job's agent and document from the store (a retry, another node's mail). */
  private async load(job: ClaimedJob): Promise<(Pick<HandedOver, 'agent' | 'doc'> & { blob: { hash: string; size: number }; raw?: undefined; parsed?: undefined }) | null> {
    const agentRow = await this.db.selectFrom('mailin_agents').selectAll().where('id', '=', job.agentId).executeTakeFirst();
    const row = await this.db
      .selectFrom('mailin_documents')
      .innerJoin('mailin_dbs', 'mailin_dbs.id', 'mailin_documents.db_id')
      .selectAll('mailin_documents')
      .select('mailin_dbs.address')
      .where('mailin_documents.id', '=', job.documentId)
      .executeTakeFirst();
    if (!agentRow || !row) return null;
    return {
      agent: toAgent(agentRow, this.secrets),
      doc: { id: row.id, dbId: row.db_id, uid: row.uid, address: row.address, mailFrom: row.mail_from, rcptTo: JSON.parse(row.rcpt_to) as string[], queueId: row.queue_id, receivedAt: row.received_at },
      blob: { hash: row.blob_hash, size: row.size },
    };
  }
}
