import type { Kysely, Transaction } from 'kysely';
import { GroupCommit, type BlobStore, type Database } from '../store/index.js';
import type { Logger } from '../core/index.js';
import { errorMessage } from '../core/index.js';
import { parseDocument, toPayload } from './document.js';
import type { ClaimedJob, JobQueue } from './queue.js';
import { recordRun } from './runs.js';
import { toAgent } from './rows.js';
import type { AgentRunner } from './runner.js';
import type { RunResult } from './types.js';

export interface WorkerOptions {
  concurrency: number;
  pollIntervalMs: number;
}

/**
 * Runs after-delivery jobs: claims due jobs up to `concurrency`, runs each agent, settles the
 * job and records the run in one transaction. It looks at the queue when woken (a delivery in
 * this process enqueued something, a job finished) and otherwise every `pollIntervalMs` (mail
 * taken by other nodes, retries coming due).
 */
export class MailinWorker {
  private active = 0;
  private stopped = false;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private loopDone: Promise<void> | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  /** Settled jobs, for tests and metrics: called after each job's transaction commits. */
  onSettled?: (job: ClaimedJob, state: string) => void;

  /**
   * Settling a job (its state and its run record) is a small write; done one transaction each,
   * the COMMIT's fsync would bound the queue's throughput. Group commit shares one COMMIT among
   * the jobs finishing together, each in its own savepoint, as deliveries do.
   */
  private readonly settler: GroupCommit<(trx: Transaction<Database>) => Promise<{ held: boolean; state: string }>, { held: boolean; state: string }>;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly blobs: BlobStore,
    private readonly queue: JobQueue,
    private readonly runner: AgentRunner,
    private readonly opts: WorkerOptions,
    private readonly logger: Logger,
  ) {
    this.settler = new GroupCommit(db, (trx, work) => work(trx));
  }

  start(): void {
    this.loopDone ??= this.loop();
  }

  wake(): void {
    this.woken = true;
    this.wakeUp?.();
  }

  /**
   * Stops claiming and waits up to `graceMs` for the runs in progress. A run still going after
   * that is abandoned: its lease expires and the job runs again (at least once, never lost).
   */
  async close(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loopDone;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all([...this.inFlight]), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      this.woken = false;
      let claimed = 0;
      const free = this.opts.concurrency - this.active;
      if (free > 0) {
        try {
          const jobs = await this.queue.claim(free);
          claimed = jobs.length;
          for (const job of jobs) this.launch(job);
        } catch (err) {
          this.logger.warn({ err: errorMessage(err) }, 'mail-in queue: claiming jobs failed');
        }
      }
      // A full batch means more may be due: look again at once if there is room.
      if (this.stopped || (claimed > 0 && claimed === free && this.active < this.opts.concurrency)) continue;
      if (this.woken) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.opts.pollIntervalMs);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = null;
    }
  }

  private launch(job: ClaimedJob): void {
    this.active++;
    const p = this.runJob(job)
      .catch((err: unknown) => this.logger.error({ job: job.id, err: errorMessage(err) }, 'mail-in job failed unexpectedly'))
      .finally(() => {
        this.active--;
        this.inFlight.delete(p);
        this.wake();
      });
    this.inFlight.add(p);
  }

  private async runJob(job: ClaimedJob): Promise<void> {
    const agentRow = await this.db.selectFrom('mailin_agents').selectAll().where('id', '=', job.agentId).executeTakeFirst();
    const doc = await this.db
      .selectFrom('mailin_documents')
      .innerJoin('mailin_dbs', 'mailin_dbs.id', 'mailin_documents.db_id')
      .selectAll('mailin_documents')
      .select('mailin_dbs.address')
      .where('mailin_documents.id', '=', job.documentId)
      .executeTakeFirst();
    // Agent or document removed since (the job row goes with them): nothing to do.
    if (!agentRow || !doc) return;
    const agent = toAgent(agentRow);
    const startedAt = Date.now();
    let result: RunResult;
    try {
      const raw = await this.blobs.get(doc.blob_hash, doc.size);
      const payload = toPayload(await parseDocument(raw), {
        uid: doc.uid,
        database: doc.address,
        mailFrom: doc.mail_from,
        rcptTo: JSON.parse(doc.rcpt_to) as string[],
        queueId: doc.queue_id,
        receivedAt: doc.received_at,
        raw,
        inlineMaxBytes: this.runner.inlineMaxBytes,
        rawMaxBytes: this.runner.rawLimit(agent),
      });
      result = await this.runner.run(agent, 'after-delivery', payload);
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
    const settled = await this.settler.submit(async (trx) => {
      const s = await this.queue.settle(trx, job, settleAs, endedAt);
      await recordRun(trx, {
        agentId: agent.id,
        dbId: doc.db_id,
        documentId: doc.id,
        documentUid: doc.uid,
        jobId: job.id,
        trigger: 'after-delivery',
        attempt: job.attempt,
        startedAt,
        endedAt,
        result: s.held ? result : { ...result, error: `${result.error ? result.error + '; ' : ''}lease lost: result discarded` },
      });
      // After delivery the document exists; an agent may still file it into a folder.
      if (s.held && v?.action === 'accept' && v.folder !== undefined) {
        await trx.updateTable('mailin_documents').set({ folder: v.folder }).where('id', '=', doc.id).execute();
      }
      return s;
    });
    this.logger.info({ job: job.id, agent: agent.id, mailin: doc.address, attempt: job.attempt, outcome: result.outcome, httpStatus: result.httpStatus, state: settled.state, ms: endedAt - startedAt }, 'after-delivery agent');
    this.onSettled?.(job, settled.held ? settled.state : 'lost');
  }
}
