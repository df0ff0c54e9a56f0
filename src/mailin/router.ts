import { randomUUID } from 'node:crypto';
import type { MessageTrace } from '../service/trace.js';
import type { Kysely, Transaction } from 'kysely';
import type { BlobStore, Database, SecretBox } from '../store/index.js';
import type { MailinConfig } from '../config/index.js';
import type { Logger } from '../core/index.js';
import { blobsInUse, writeBlob } from '../store/index.js';
import { DeliveryRefused, type FilingPlan, type HandledMessage, type RecipientHandler } from '../service/index.js';
import type { ParsedDocument } from './document.js';
import { applyHeaderChanges, HeaderEditError } from './header-edit.js';
import { recordRun, type RunRecord } from './runs.js';
import { toAgent, type Row } from './rows.js';
import type { AgentRunner } from './runner.js';
import type { Agent, HeaderChanges } from './types.js';
import type { ClaimedJob, JobQueue } from './queue.js';

/**
 * This node's worker as the router sees it: room for jobs is reserved while the delivery's
 * transaction runs, and the jobs leased in it are handed over after the COMMIT (or the room
 * given back when it did not commit); jobs left queued wake it.
 */
export interface LocalWorker {
  reserve(n: number): number;
  release(n: number): void;
  adopt(jobs: ClaimedJob[]): void;
  wake(): void;
}

interface Filing {
  dbId: number;
  address: string;
  raw: Buffer;
  uid: string;
  blob: { hash: string; size: number };
  parsed: ParsedDocument;
  folder: string;
  afterAgents: Agent[];
  beforeRun?: RunRecord;
}

/**
 * Mail for mail-in addresses, inside the service's delivery: the message's blob is durable,
 * nothing is committed yet. For each mail-in recipient the before-delivery agent (if any) runs
 * now and its verdict decides: reject or temporary failure refuses the whole message (the SMTP
 * client gets the answer), drop files nothing, accept files the (possibly edited) document.
 * The filing plan then inserts the documents, their after-delivery jobs and the run records
 * in the delivery's own transaction, so the 250 means all of it is committed.
 */
export class MailinRouter implements RecipientHandler {
  /** The message trace, when on (set by createMailin): runs become `mailin-run` events. */
  trace: MessageTrace | undefined;
  /** Agents see the whole message: the delivery hands over the bytes it just wrote. */
  readonly wantsRaw = true;
  private local: LocalWorker | null = null;

  constructor(
    private readonly db: Kysely<Database>,
    private readonly blobs: BlobStore,
    private readonly secrets: SecretBox,
    private readonly queue: JobQueue,
    private readonly runner: AgentRunner,
    private readonly config: MailinConfig,
    private readonly logger: Logger,
  ) {}

  /**
   * Jobs of deliveries in this process go straight to this worker while it has room; it is
   * woken after a COMMIT that left jobs queued for a claim.
   */
  handOverTo(worker: LocalWorker): void {
    this.local = worker;
  }

  async accepts(address: string): Promise<boolean> {
    const row = await this.db.selectFrom('mailin_dbs').select('id').where('address', '=', address).executeTakeFirst();
    return row !== undefined;
  }

  async prepare(msg: HandledMessage): Promise<FilingPlan> {
    const raw = msg.raw ?? (await this.blobs.get(msg.blob.hash, msg.blob.size));
    const parsed = await this.runner.parse(raw);
    const filings: Filing[] = [];
    const dropped: RunRecord[] = [];
    const extraBlobs: string[] = [];
    try {
      for (const address of msg.recipients) {
        // The database and its agents in one query (a database without agents gives one row of NULLs).
        const rows = await this.db
          .selectFrom('mailin_dbs')
          .leftJoin('mailin_agents', 'mailin_agents.db_id', 'mailin_dbs.id')
          .selectAll('mailin_agents')
          .select(['mailin_dbs.id as db_row_id', 'mailin_dbs.address as db_address'])
          .where('mailin_dbs.address', '=', address)
          .orderBy('mailin_agents.id')
          .execute();
        // Removed between RCPT and the end of DATA (or never one: the SMTP edge no longer asks twice).
        if (rows.length === 0) throw new DeliveryRefused(550, '5.1.1', `<${address}>: no such user here`);
        const dbRow = { id: rows[0]!.db_row_id, address: rows[0]!.db_address };
        const agents = rows.filter((r) => r.id !== null).map((r) => toAgent(r as Row<'mailin_agents'>, this.secrets));
        const before = this.config.beforeDelivery ? agents.find((a) => a.trigger === 'before-delivery') : undefined;
        const filing: Filing = {
          dbId: dbRow.id,
          address: dbRow.address,
          raw,
          uid: randomUUID(),
          blob: msg.blob,
          parsed,
          folder: '',
          afterAgents: agents.filter((a) => a.trigger === 'after-delivery'),
        };
        if (before) {
          const startedAt = Date.now();
          const result = await this.runner.run(before, 'before-delivery', parsed, {
            uid: filing.uid,
            database: dbRow.address,
            mailFrom: msg.mailFrom,
            rcptTo: msg.allRecipients,
            queueId: msg.queueId,
            receivedAt: msg.receivedAt,
            raw,
          });
          const run: RunRecord = {
            agentId: before.id,
            dbId: dbRow.id,
            documentId: null,
            documentUid: filing.uid,
            jobId: null,
            trigger: 'before-delivery',
            attempt: 1,
            startedAt,
            endedAt: Date.now(),
            result,
            queueId: msg.queueId,
          };
          this.logger.info({ queueId: msg.queueId, mailin: dbRow.address, agent: before.id, outcome: result.outcome, verdict: result.verdict?.action, httpStatus: result.httpStatus, ms: run.endedAt - startedAt }, 'before-delivery agent');
          const v = result.outcome === 'ok' ? result.verdict : undefined;
          if (!v) {
            if (before.onFailure === 'tempfail') {
              await recordRun(this.db, run);
              throw new DeliveryRefused(451, '4.3.0', `<${dbRow.address}>: mail-in agent unavailable, try again later`);
            }
            // on-failure accept: filed as it came, unseen by the agent.
          } else if (v.action === 'reject') {
            await recordRun(this.db, run);
            throw new DeliveryRefused(v.code, v.enhanced, v.text);
          } else if (v.action === 'drop') {
            dropped.push(run);
            continue;
          } else {
            const edited = v.headers && Object.keys(v.headers).length > 0 ? this.editedOrNot(raw, v.headers, msg.queueId, dbRow.address) : undefined;
            if (edited) {
              filing.raw = edited;
              filing.blob = await writeBlob(this.blobs, edited);
              extraBlobs.push(filing.blob.hash);
              filing.parsed = await this.runner.parse(edited);
            }
            if (v.folder !== undefined) filing.folder = v.folder;
          }
          filing.beforeRun = run;
        }
        filings.push(filing);
      }
    } catch (err) {
      await this.removeUnused(extraBlobs);
      throw err;
    }
    const jobs = { queued: 0, reserved: 0, leased: [] as ClaimedJob[] };
    return {
      file: async (trx) => {
        for (const f of filings) await this.fileOne(trx, f, msg, jobs);
        for (const r of dropped) await recordRun(trx, r, this.trace);
      },
      committed: () => {
        if (jobs.reserved > 0) this.local!.adopt(jobs.leased);
        if (jobs.queued > 0) this.local?.wake();
      },
      abandoned: async () => {
        // Not committed: the leased rows do not exist, the room reserved for them is free again.
        if (jobs.reserved > 0) this.local!.release(jobs.reserved);
        jobs.reserved = 0;
        await this.removeUnused(extraBlobs);
      },
      usesBlob: filings.some((f) => f.blob.hash === msg.blob.hash),
    };
  }

  /** The message with an agent's header changes, or undefined (filed as it came) when its header cannot be edited. */
  private editedOrNot(raw: Buffer, changes: HeaderChanges, queueId: string, mailin: string): Buffer | undefined {
    try {
      return applyHeaderChanges(raw, changes);
    } catch (err) {
      if (!(err instanceof HeaderEditError)) throw err;
      this.logger.warn({ queueId, mailin, err: err.message }, 'agent header changes not applied');
      return undefined;
    }
  }

  private async fileOne(trx: Transaction<Database>, f: Filing, msg: HandledMessage, jobs: { queued: number; reserved: number; leased: ClaimedJob[] }): Promise<void> {
    const p = f.parsed;
    const text = Buffer.byteLength(p.text) > this.config.textMaxBytes ? Buffer.from(p.text).subarray(0, this.config.textMaxBytes).toString('utf8') : p.text;
    const doc = await trx
      .insertInto('mailin_documents')
      .values({
        uid: f.uid,
        db_id: f.dbId,
        blob_hash: f.blob.hash,
        size: f.blob.size,
        received_at: msg.receivedAt,
        queue_id: msg.queueId,
        mail_from: msg.mailFrom,
        rcpt_to: JSON.stringify(msg.allRecipients),
        folder: f.folder,
        from_addr: p.from,
        to_addrs: JSON.stringify(p.to),
        subject: p.subject,
        date: p.date,
        message_id: p.messageId,
        kim: JSON.stringify(p.kim),
        text_body: text,
        attachments: JSON.stringify(p.attachments.map(({ name, type, size, sha256 }) => ({ name, type, size, sha256 }))),
      })
      .returning('id')
      .executeTakeFirstOrThrow();
    if (f.beforeRun) await recordRun(trx, { ...f.beforeRun, documentId: doc.id }, this.trace);
    if (f.afterAgents.length > 0) {
      // Room is reserved before the INSERTs so a failure in between still gives it back (abandoned).
      const local = this.local?.reserve(f.afterAgents.length) ?? 0;
      jobs.reserved += local;
      const leased = await this.queue.enqueue(trx, f.afterAgents.map((a) => ({ agentId: a.id, documentId: doc.id, timeoutMs: a.timeoutMs })), local);
      const handedDoc = { id: doc.id, dbId: f.dbId, uid: f.uid, address: f.address, mailFrom: msg.mailFrom, rcptTo: msg.allRecipients, queueId: msg.queueId, receivedAt: msg.receivedAt };
      for (const job of leased) {
        const agent = f.afterAgents.find((a) => a.id === job.agentId)!;
        jobs.leased.push({ ...job, handedOver: { agent, doc: handedDoc, raw: f.raw, parsed: f.parsed } });
      }
      jobs.queued += f.afterAgents.length - leased.length;
    }
  }

  private async removeUnused(hashes: string[]): Promise<void> {
    if (hashes.length === 0) return;
    const used = await blobsInUse(this.db, hashes);
    for (const h of hashes) if (!used.has(h)) await this.blobs.delete(h).catch(() => undefined);
  }
}
