import type { CompiledQuery, Kysely, Transaction } from 'kysely';
import type { Readable } from 'node:stream';
import { GroupCommit, type BlobStore, type Database } from '../store/index.js';
import { PostamtError } from '../core/index.js';
import { deleteUnreferencedBlobs } from './accounts.js';

interface FileRequest {
  blob: { hash: string; size: number };
  accountIds: number[];
  now: number;
  /** More work for the same transaction (mail-in documents and their jobs, the trace), given the new rows' ids. */
  also?: ((trx: Transaction<Database>, messageIds: number[]) => Promise<void>) | undefined;
}

/** One message in a mailbox as POP3 sees it. */
export interface MailboxEntry {
  id: number;
  /** Unique and stable for the message's life (RFC 1939 UIDL). */
  uid: string;
  size: number;
  blobHash: string;
  receivedAt: number;
}

export class QuotaExceededError extends PostamtError {
  constructor(readonly address: string) {
    super('quota', `mailbox ${address} is full`);
  }
}

export class MailboxGoneError extends PostamtError {
  constructor(readonly accountId: number) {
    super('gone', `mailbox ${accountId} no longer exists`);
  }
}

/**
 * Filing into mailboxes, listing, reading and expunging. The blob is already durable when
 * `file` is called; `file` commits every recipient's row in one transaction (shared with
 * concurrent deliveries by group commit), so a crash leaves the message in all mailboxes or
 * in none.
 */
export class Mailboxes {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly blobs: BlobStore,
    /** Shared with the process's other writers (the service role passes one for all). */
    private readonly commits = new GroupCommit(db),
  ) {}

  async file(
    blob: { hash: string; size: number },
    accountIds: number[],
    now = Date.now(),
    also?: (trx: Transaction<Database>, messageIds: number[]) => Promise<void>,
  ): Promise<number[]> {
    const req: FileRequest = { blob, accountIds: [...new Set(accountIds)], now, also };
    return this.commits.submit((trx) => this.fileInto(trx, req));
  }

  /**
   * Files one message into every mailbox; runs inside a (group) transaction. Two statements
   * however many recipients: one UPDATE charges every quota (the check and the increment in
   * one statement, so two concurrent deliveries cannot both squeeze under a limit) and one
   * INSERT adds every mailbox's row.
   */
  private async fileInto(trx: Transaction<Database>, req: FileRequest): Promise<number[]> {
    const messageIds = req.accountIds.length > 0 ? await this.addRows(trx, req) : [];
    if (req.also) await req.also(trx, messageIds);
    return messageIds;
  }

  private async addRows(trx: Transaction<Database>, req: FileRequest): Promise<number[]> {
    const ids = req.accountIds;
    const size = req.blob.size;
    const charged = await trx
      .updateTable('accounts')
      .set((eb) => ({ used_bytes: eb('used_bytes', '+', size) }))
      .where('id', 'in', ids)
      .where((eb) => eb.or([eb('quota_bytes', '=', 0), eb(eb('used_bytes', '+', size), '<=', eb.ref('quota_bytes'))]))
      .returning(['id'])
      .execute();
    if (charged.length < ids.length) await this.refuse(trx, ids, new Set(charged.map((r) => r.id)));
    const rows = await trx
      .insertInto('messages')
      .values(ids.map((accountId) => ({ account_id: accountId, blob_hash: req.blob.hash, size, received_at: req.now })))
      .returning(['id', 'account_id'])
      .execute();
    // RETURNING promises no order: map the rows back to the recipients (one row per account).
    const byAccount = new Map(rows.map((r) => [r.account_id, r.id]));
    return ids.map((a) => byAccount.get(a)!);
  }

  /** Why an account was not charged: gone, or over its quota. Throws; the caller's savepoint undoes the rest. */
  private async refuse(trx: Transaction<Database>, ids: number[], charged: Set<number>): Promise<never> {
    const first = ids.find((id) => !charged.has(id))!;
    const acc = await trx.selectFrom('accounts').select('address').where('id', '=', first).executeTakeFirst();
    if (!acc) throw new MailboxGoneError(first);
    throw new QuotaExceededError(acc.address);
  }

  /** A snapshot of the mailbox, oldest first. */
  async list(accountId: number): Promise<MailboxEntry[]> {
    const rows = await this.db
      .selectFrom('messages')
      .select(['id', 'size', 'blob_hash', 'received_at'])
      .where('account_id', '=', accountId)
      .orderBy('id')
      .execute();
    return rows.map((r) => ({ id: r.id, uid: uidOf(r.id), size: r.size, blobHash: r.blob_hash, receivedAt: r.received_at }));
  }

  /**
   * What a POP3 login needs of the mailbox, oldest first: id and size of every message and
   * nothing more (blob addresses are read at RETR, a window at a time: blobsFrom), so a login
   * to a mailbox of thousands reads two integers a row.
   */
  async listing(accountId: number): Promise<ListedMessage[]> {
    const rows = await this.db.selectFrom('messages').select(['id', 'size']).where('account_id', '=', accountId).orderBy('id').execute();
    const out = new Array<ListedMessage>(rows.length);
    for (let i = 0; i < rows.length; i++) out[i] = new ListedMessage(rows[i]!.id, rows[i]!.size);
    return out;
  }

  private blobsFromQuery: CompiledQuery<{ id: number; blob_hash: string; size: number }> | undefined;

  /**
   * The blob addresses of an account's messages from id `fromId` on, ascending, at most `limit`:
   * what POP3 reads ahead so that sequential RETRs need one query per window, not one each.
   * A message of the mailbox in that range that is not in the answer was expunged.
   */
  async blobsFrom(accountId: number, fromId: number, limit: number): Promise<Array<{ id: number; blob_hash: string; size: number }>> {
    // Compiled once: Kysely builds and compiles a query anew on each call, which was twice the
    // time of SQLite's own lookup.
    this.blobsFromQuery ??= this.db
      .selectFrom('messages')
      .select(['id', 'blob_hash', 'size'])
      .where('account_id', '=', 0)
      .where('id', '>=', 0)
      .orderBy('id')
      .limit(1)
      .compile();
    const { rows } = await this.db.executeQuery<{ id: number; blob_hash: string; size: number }>({ ...this.blobsFromQuery, parameters: [accountId, fromId, limit] });
    return rows;
  }

  /**
   * Expunges committed through this object, per account: a POP3 session's read-ahead of blob
   * addresses stays valid while its account's count is unchanged. Another node's expunges are
   * not counted; a session there serves what its read-ahead saw (the message was in its
   * snapshot) until the blob itself is gone, and then reports the message as removed.
   */
  private readonly expunges = new Map<number, number>();

  expungeCount(accountId: number): number {
    return this.expunges.get(accountId) ?? 0;
  }

  /** A blob's content by its address and size. */
  content(blob: { hash: string; size: number }): Promise<Buffer> {
    return this.blobs.get(blob.hash, blob.size);
  }

  /** The same as a stream (a large message is not held whole). */
  contentStream(blob: { hash: string }): Promise<Readable> {
    return this.blobs.stream(blob.hash);
  }

  /** Whether the message still exists (another session may have expunged it). */
  async exists(accountId: number, id: number): Promise<boolean> {
    const r = await this.db.selectFrom('messages').select('id').where('id', '=', id).where('account_id', '=', accountId).executeTakeFirst();
    return r !== undefined;
  }

  read(entry: MailboxEntry): Promise<Buffer> {
    return this.blobs.get(entry.blobHash, entry.size);
  }

  stream(entry: MailboxEntry): Promise<Readable> {
    return this.blobs.stream(entry.blobHash);
  }

  /**
   * Deletes messages in one transaction; returns how many were still there to delete. `also`
   * runs in the same transaction (the trace's expunged events).
   */
  async expunge(accountId: number, ids: number[], also?: (trx: Transaction<Database>) => Promise<void>): Promise<number> {
    if (ids.length === 0) return 0;
    const { count, hashes } = await this.db.transaction().execute(async (trx) => {
      if (also) await also(trx);
      const rows = await trx
        .deleteFrom('messages')
        .where('account_id', '=', accountId)
        .where('id', 'in', ids)
        .returning(['blob_hash', 'size'])
        .execute();
      const freed = rows.reduce((s, r) => s + r.size, 0);
      if (freed > 0) {
        await trx
          .updateTable('accounts')
          .set((eb) => ({ used_bytes: eb('used_bytes', '-', freed) }))
          .where('id', '=', accountId)
          .execute();
      }
      return { count: rows.length, hashes: [...new Set(rows.map((r) => r.blob_hash))] };
    });
    if (count > 0) this.expunges.set(accountId, this.expungeCount(accountId) + 1);
    await deleteUnreferencedBlobs(this.db, this.blobs, hashes);
    return count;
  }
}

/** One message of a listing(): its UIDL string is made only when asked for. */
export class ListedMessage {
  constructor(
    readonly id: number,
    readonly size: number,
  ) {}

  get uid(): string {
    return uidOf(this.id);
  }
}

/** UIDL: the row id, which the store never reuses, in a compact form. */
export function uidOf(id: number): string {
  return `m${id.toString(36)}`;
}
