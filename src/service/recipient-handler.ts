import type { Transaction } from 'kysely';
import type { Database } from '../store/index.js';
import { PostamtError } from '../core/index.js';

/**
 * Whoever files recipients other than into a mailbox, inside the delivery: mail-in databases
 * (mailin/) and the relay queue (relay/). The service knows only this interface, so those
 * modules can depend on the service and not the other way round.
 */
export interface FilingHandler {
  /** Whether `prepare` reads the whole message: the delivery then passes the bytes it wrote (`raw`). */
  readonly wantsRaw: boolean;
  /**
   * Called once the message's blob is durable and before the delivery's transaction: runs
   * whatever must see the message first (before-delivery agents). Throws DeliveryRefused to
   * refuse the whole message (nothing is filed for anyone).
   */
  prepare(msg: HandledMessage): Promise<FilingPlan>;
}

/** Recipients in local domains that are not mailboxes: mail-in databases. */
export interface RecipientHandler extends FilingHandler {
  /** Whether the (normalised) address belongs to this handler; asked at RCPT and again at DATA. */
  accepts(address: string): Promise<boolean>;
}

export interface HandledMessage {
  queueId: string;
  blob: { hash: string; size: number };
  mailFrom: string;
  /** The recipients this handler accepted. */
  recipients: string[];
  /** Every envelope recipient, for agents that want the whole envelope. */
  allRecipients: string[];
  receivedAt: number;
  /** The message as stored (the blob's bytes), when the delivery still has them. */
  raw?: Buffer;
  /** RCPT's NOTIFY= (RFC 3461) by address in lower case, for whoever passes the message on. */
  notify?: ReadonlyMap<string, readonly string[]>;
}

export interface FilingPlan {
  /** Runs inside the delivery's transaction (the same COMMIT as the mailbox rows). */
  file(trx: Transaction<Database>): Promise<void>;
  /** After that COMMIT. */
  committed(): void;
  /** Whether a filed row refers to the message's own blob (false: all dropped or edited copies). */
  readonly usesBlob: boolean;
  /** The transaction did not commit: undo what `prepare` wrote outside it (extra blobs). */
  abandoned(): Promise<void>;
}

/** The message is refused with this SMTP answer (a before-delivery agent's reject or tempfail). */
export class DeliveryRefused extends PostamtError {
  constructor(
    readonly smtpCode: number,
    readonly enhanced: string,
    readonly text: string,
  ) {
    super('refused', `${smtpCode} ${enhanced} ${text}`);
    this.name = 'DeliveryRefused';
  }
}
