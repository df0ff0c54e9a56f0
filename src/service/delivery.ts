import type { BlobStore } from '../store/index.js';
import { randomHex, type Logger } from '../core/index.js';
import { formatReceived, formatReturnPath } from '../wire/smtp/index.js';
import type { Mailboxes } from './mailboxes.js';
import type { FilingPlan, RecipientHandler } from './recipient-handler.js';

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
  /** Recipients that are not mailboxes (mail-in databases), with who files them. */
  handled?: { handler: RecipientHandler; recipients: string[] } | undefined;
}

export interface Accepted {
  queueId: string;
  hash: string;
  size: number;
  messageIds: number[];
}

/** A short, unique id that names one accepted message in logs, headers and 250 replies. */
export function newQueueId(): string {
  return `${Date.now().toString(36)}${randomHex(5)}`.toUpperCase();
}

/**
 * Accepting a message for local mailboxes, durably: trace headers and body go into the blob
 * store and are fsynced, then one transaction files the message into every mailbox. Only
 * after both does `accept` resolve — that is the moment a 250 may be sent.
 */
export class LocalDelivery {
  constructor(
    private readonly blobs: BlobStore,
    private readonly mailboxes: Mailboxes,
    private readonly hostname: string,
    private readonly logger: Logger,
  ) {}

  async accept(msg: InboundMessage): Promise<Accepted> {
    const queueId = newQueueId();
    const writer = await this.blobs.writer();
    // A handler (mail-in) reads the whole message anyway: keep the bytes rather than read them back.
    const handledBytes: Buffer[] | null = msg.handled && msg.handled.recipients.length > 0 ? [] : null;
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
        await writer.write(chunk);
        handledBytes?.push(chunk);
      }
      blob = await writer.commit();
    } catch (err) {
      await writer.abort();
      throw err;
    }
    const receivedAt = Date.now();
    let plan: FilingPlan | undefined;
    try {
      // Before-delivery agents see the durable message before anything is committed; a refusal
      // here files nothing for anyone (one DATA, one answer).
      if (msg.handled && msg.handled.recipients.length > 0) {
        plan = await msg.handled.handler.prepare({
          queueId,
          blob,
          mailFrom: msg.mailFrom,
          recipients: msg.handled.recipients,
          allRecipients: msg.recipients,
          receivedAt,
          raw: Buffer.concat(handledBytes!, blob.size),
        });
      }
      const messageIds = await this.mailboxes.file(blob, msg.accountIds, receivedAt, plan ? (trx) => plan!.file(trx) : undefined);
      plan?.committed();
      // Every mail-in recipient may have dropped the message (or filed an edited copy).
      if (msg.accountIds.length === 0 && plan && !plan.usesBlob) await this.removeBlob(blob.hash);
      return { queueId, hash: blob.hash, size: blob.size, messageIds };
    } catch (err) {
      await plan?.abandoned().catch((e: unknown) => this.logger.warn({ err: String(e) }, 'could not undo a mail-in filing plan'));
      // Nothing refers to the blob: remove it now rather than leave it to garbage collection.
      await this.removeBlob(blob.hash);
      throw err;
    }
  }

  private async removeBlob(hash: string): Promise<void> {
    await this.blobs.delete(hash).catch((e: unknown) => this.logger.warn({ err: String(e) }, 'could not remove unfiled blob'));
  }
}
