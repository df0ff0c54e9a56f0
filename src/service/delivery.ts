import type { Transaction } from 'kysely';
import type { BlobStore, Database } from '../store/index.js';
import { randomHex, type Logger, type Metrics } from '../core/index.js';
import { formatReceived, formatReturnPath } from '../wire/smtp/index.js';
import type { Mailboxes } from './mailboxes.js';
import type { FilingHandler, FilingPlan } from './recipient-handler.js';
import { HeaderCollector, type MessageTrace, type TraceRefusal, type TraceSession } from './trace.js';

export interface InboundMessage {
  mailFrom: string;
  /** Local account ids to file into, one per distinct recipient account. */
  accountIds: number[];
  /** Recipient addresses as given, for the Received header. */
  recipients: string[];
  trace: {
    heloName: string;
    clientHostname: string;
    clientAddress: string;
    protocol: string;
    tls?: { protocol: string; cipher: string };
  };
  body: AsyncIterable<Buffer>;
  /** Recipients that are not mailboxes (mail-in databases, other providers), with who files them. */
  handled?: Array<{ handler: FilingHandler; recipients: string[] }>;
  /** What the message trace records beyond the above (service/trace.ts); absent: not traced. */
  traced?: TracedFacts;
  /** RCPT's NOTIFY= by address in lower case, passed to the handlers (the relay passes it on). */
  notify?: ReadonlyMap<string, readonly string[]> | undefined;
}

export interface TracedFacts {
  session: TraceSession;
  /** RCPTs refused earlier in this transaction. */
  refused: TraceRefusal[];
  /** The address of each account in accountIds. */
  mailboxes: ReadonlyMap<number, string>;
  relayed: string[];
  mailin: string[];
}

export interface Accepted {
  queueId: string;
  hash: string;
  size: number;
  messageIds: number[];
  /** When the message was taken (unix ms): RFC 3464's Arrival-Date. */
  receivedAt: number;
}

/** A short, unique id that names one accepted message in logs, headers and 250 replies. */
export function newQueueId(): string {
  return `${Date.now().toString(36)}${randomHex(5)}`.toUpperCase();
}

/**
 * Accepting a message, durably: trace headers and body go into the blob store and are fsynced,
 * then one transaction files the message into every mailbox and whatever the handlers file
 * (mail-in documents and jobs, relay queue rows). Only after both does `accept` resolve — that
 * is the moment a 250 may be sent.
 */
export class LocalDelivery {
  constructor(
    private readonly blobs: BlobStore,
    private readonly mailboxes: Mailboxes,
    private readonly hostname: string,
    private readonly logger: Logger,
    /** Counts recipients filed into mailboxes (postamt_local_deliveries_total). */
    private readonly metrics?: Metrics,
    /** The message trace, when on: its rows go into the delivery's own transaction. */
    private readonly trace?: MessageTrace,
  ) {}

  async accept(msg: InboundMessage): Promise<Accepted> {
    const queueId = newQueueId();
    const writer = await this.blobs.writer();
    const groups = (msg.handled ?? []).filter((h) => h.recipients.length > 0);
    // A handler that reads the whole message anyway (mail-in) gets the bytes rather than read them back.
    const handledBytes: Buffer[] | null = groups.some((g) => g.handler.wantsRaw) ? [] : null;
    const traced = this.trace ? msg.traced : undefined;
    const header = traced ? new HeaderCollector() : null;
    let blob: { hash: string; size: number };
    try {
      const head =
        formatReturnPath(msg.mailFrom) +
        formatReceived({
          heloName: msg.trace.heloName,
          clientHostname: msg.trace.clientHostname,
          clientAddress: msg.trace.clientAddress,
          byHostname: this.hostname,
          protocol: msg.trace.protocol,
          tls: msg.trace.tls,
          id: queueId,
          recipient: msg.recipients.length === 1 ? msg.recipients[0] : undefined,
          date: new Date(),
        });
      const headBytes = Buffer.from(head, 'utf8');
      await writer.write(headBytes);
      handledBytes?.push(headBytes);
      for await (const chunk of msg.body) {
        header?.push(chunk);
        await writer.write(chunk);
        handledBytes?.push(chunk);
      }
      blob = await writer.commit();
    } catch (err) {
      await writer.abort();
      throw err;
    }
    const receivedAt = Date.now();
    const plans: FilingPlan[] = [];
    try {
      // Before-delivery agents see the durable message before anything is committed; a refusal
      // here files nothing for anyone (one DATA, one answer).
      const raw = handledBytes ? Buffer.concat(handledBytes, blob.size) : undefined;
      for (const g of groups) {
        plans.push(
          await g.handler.prepare({
            queueId,
            blob,
            mailFrom: msg.mailFrom,
            recipients: g.recipients,
            allRecipients: msg.recipients,
            receivedAt,
            ...(raw ? { raw } : {}),
            ...(msg.notify ? { notify: msg.notify } : {}),
          }),
        );
      }
      // Every handler's rows go into the mailboxes' transaction: one COMMIT, then one 250.
      const accountIds = [...new Set(msg.accountIds)];
      const fileAll = async (trx: Transaction<Database>) => {
        for (const p of plans) await p.file(trx);
      };
      if (traced && header && this.trace) this.trace.begin(queueId);
      const messageIds = await this.mailboxes.file(blob, accountIds, receivedAt, plans.length > 0 ? fileAll : undefined);
      // Recorded once committed, so the trace never holds a message that was not accepted; a
      // mail-in agent's run (after this) is recorded after it.
      if (traced && header && this.trace) {
        this.trace.accepted({
          queueId,
          receivedAt,
          mailFrom: msg.mailFrom,
          recipients: msg.recipients,
          size: blob.size,
          header: header.facts(),
          session: traced.session,
          refused: traced.refused,
          delivered: accountIds.map((id, i) => ({ address: traced.mailboxes.get(id) ?? String(id), mailboxMessageId: messageIds[i]! })),
          relayed: traced.relayed,
          mailin: traced.mailin,
        });
      }
      for (const p of plans) p.committed();
      if (msg.accountIds.length > 0) this.metrics?.inc('postamt_local_deliveries_total', {}, msg.accountIds.length, 'recipients filed into local mailboxes');
      // Every mail-in recipient may have dropped the message (or filed an edited copy).
      if (msg.accountIds.length === 0 && plans.length > 0 && !plans.some((p) => p.usesBlob)) await this.removeBlob(blob.hash);
      return { queueId, hash: blob.hash, size: blob.size, messageIds, receivedAt };
    } catch (err) {
      this.trace?.abandon(queueId);
      for (const p of plans) await p.abandoned().catch((e: unknown) => this.logger.warn({ err: String(e) }, 'could not undo a filing plan'));
      // Nothing refers to the blob: remove it now rather than leave it to garbage collection.
      await this.removeBlob(blob.hash);
      throw err;
    }
  }

  private async removeBlob(hash: string): Promise<void> {
    await this.blobs.delete(hash).catch((e: unknown) => this.logger.warn({ err: String(e) }, 'could not remove unfiled blob'));
  }
}
