import { Pop3MessageGoneError, type Pop3Backend, type Pop3LoginRequest, type Pop3LoginResult, type Pop3Maildrop } from '../pop3/index.js';
import type { Accounts } from './accounts.js';
import type { Mailboxes, ListedMessage } from './mailboxes.js';
import { parseAddress } from './addresses.js';
import type { LoginCheck } from './login-check.js';
import type { Logger } from '../core/index.js';
import type { MessageTrace } from './trace.js';

/**
 * The service's mailboxes as POP3 sees them. A login takes a snapshot of the mailbox (see the
 * session's snapshot semantics in src/pop3/session.ts); nothing is locked, so several sessions
 * and deliveries may run side by side, and a message another session removed is reported as
 * gone instead of being served from a dangling blob.
 */
export interface ServicePop3Options {
  /** Who checks passwords (default: the accounts themselves; or a user source, integration/). */
  logins?: LoginCheck;
  /**
   * The archive user: the one account that may name another account as SASL PLAIN
   * authorization identity (RFC 4616) and so read (and, with DELE, empty) that mailbox.
   */
  archiveUser?: string;
  logger?: Logger;
  /** The message trace, when on: messages fetched (RETR, TOP) and expunged, once per session. */
  trace?: MessageTrace | undefined;
}

export class ServicePop3Backend implements Pop3Backend {
  private readonly archiveUser: string | undefined;

  constructor(
    private readonly accounts: Accounts,
    private readonly mailboxes: Mailboxes,
    private readonly opts: ServicePop3Options = {},
  ) {
    this.archiveUser = opts.archiveUser ? parseAddress(opts.archiveUser)?.address : undefined;
  }

  async login(req: Pop3LoginRequest): Promise<Pop3LoginResult> {
    const target = this.target(req);
    if (target === 'refused') return { ok: false, reason: 'credentials', message: 'authorization identity not permitted' };
    const account = await (this.opts.logins ?? this.accounts).authenticate(req.user, req.password);
    if (!account) return { ok: false, reason: 'credentials' };
    return this.open(req, account, target);
  }

  /** `login` from a login-cache hit of an account's own password; a user source (integration) is always asked in full. */
  async loginCached(req: Pop3LoginRequest): Promise<Pop3LoginResult | undefined> {
    if (this.opts.logins) return undefined;
    const target = this.target(req);
    if (target === 'refused') return undefined;
    const account = await this.accounts.authenticateCached(req.user, req.password);
    return account ? this.open(req, account, target) : undefined;
  }

  /**
   * The mailbox another account asks for (the authzid), undefined for the user's own, or
   * 'refused': only the archive user may act for another account, and for anyone else an
   * authzid other than their own is refused before the password is looked at.
   */
  private target(req: Pop3LoginRequest): string | undefined | 'refused' {
    const user = parseAddress(req.user)?.address;
    if (req.authzid === undefined) return undefined;
    const target = parseAddress(req.authzid)?.address;
    if (target === user) return undefined;
    if (this.archiveUser === undefined || user !== this.archiveUser || target === undefined) return 'refused';
    return target;
  }

  private async open(req: Pop3LoginRequest, account: { id: number; address: string }, target: string | undefined): Promise<Pop3LoginResult> {
    let mailbox: { id: number; address: string } = account;
    if (target !== undefined) {
      const t = await this.accounts.find(target);
      if (!t) return { ok: false, reason: 'credentials', message: 'authorization identity not permitted' };
      mailbox = t;
      this.opts.logger?.info({ archiveUser: account.address, mailbox: t.address, remote: req.remoteAddress }, 'pop3 archive access');
    }
    const entries = await this.mailboxes.listing(mailbox.id);
    const traced = this.opts.trace ? { trace: this.opts.trace, account: mailbox.address, logger: this.opts.logger } : undefined;
    return { ok: true, account: mailbox.address, maildrop: new ServiceMaildrop(this.mailboxes, mailbox.id, entries, traced) };
  }
}

/** How many blob addresses a RETR reads ahead. */
const READ_AHEAD = 64;

class ServiceMaildrop implements Pop3Maildrop {
  constructor(
    private readonly mailboxes: Mailboxes,
    private readonly accountId: number,
    /** The listing is what POP3 sees (uid, size): no second object per message. */
    readonly messages: readonly ListedMessage[],
    private readonly traced?: { trace: MessageTrace; account: string; logger?: Logger | undefined },
  ) {}

  /** Mailbox rows read in this session (for the trace: recorded once, at the end). */
  private fetched: Set<number> | null = null;

  retrieve(index: number): Promise<Buffer> {
    return this.open(index, (blob) => this.mailboxes.content(blob));
  }

  /** The blob store's stream: chunk rows or file reads, pulled as the socket drains. */
  retrieveStream(index: number): Promise<AsyncIterable<Uint8Array>> {
    return this.open(index, (blob) => this.mailboxes.contentStream(blob));
  }

  /** Blob addresses read ahead (READ_AHEAD rows from `fromId`), valid while no expunge of the account committed here. */
  private ahead: { expunges: number; fromId: number; throughId: number; rows: Map<number, { hash: string; size: number }> } | null = null;

  /**
   * The blob of message `id`, or undefined when it was expunged. Clients RETR in order, so one
   * query answers the next READ_AHEAD RETRs; the per-RETR lookup was a fifth of a RETR's cost.
   */
  private async blobAt(id: number): Promise<{ hash: string; size: number } | undefined> {
    // Read before the query: an expunge that commits while it runs makes the answer stale.
    const expunges = this.mailboxes.expungeCount(this.accountId);
    const a = this.ahead;
    if (a && a.expunges === expunges && id >= a.fromId && id <= a.throughId) return a.rows.get(id);
    const rows = await this.mailboxes.blobsFrom(this.accountId, id, READ_AHEAD);
    const throughId = rows.length < READ_AHEAD ? Number.MAX_SAFE_INTEGER : rows[rows.length - 1]!.id;
    this.ahead = { expunges, fromId: id, throughId, rows: new Map(rows.map((r) => [r.id, { hash: r.blob_hash, size: r.size }])) };
    return this.ahead.rows.get(id);
  }

  private async open<T>(index: number, read: (blob: { hash: string; size: number }) => Promise<T>): Promise<T> {
    const entry = this.messages[index];
    if (!entry) throw new RangeError(`no message at index ${index}`);
    // The row first, with the blob's address: the blob may outlive the row when another message
    // shares its content, so the blob alone does not say the message is still there.
    const blob = await this.blobAt(entry.id);
    if (!blob) throw new Pop3MessageGoneError();
    if (this.traced) (this.fetched ??= new Set()).add(entry.id);
    try {
      return await read(blob);
    } catch (err) {
      // Expunged between the check and the read: its blob may be gone already.
      if (!(await this.mailboxes.exists(this.accountId, entry.id))) throw new Pop3MessageGoneError();
      throw err;
    }
  }

  async commit(deleted: number[]): Promise<void> {
    const ids = deleted.map((i) => this.messages[i]?.id).filter((id): id is number => id !== undefined);
    await this.mailboxes.expunge(this.accountId, ids);
    const t = this.traced;
    if (!t) return;
    t.trace.mailboxEvents('fetched', t.account, this.takeFetched());
    t.trace.mailboxEvents('expunged', t.account, ids);
  }

  private takeFetched(): number[] {
    const ids = this.fetched ? [...this.fetched] : [];
    this.fetched = null;
    return ids;
  }

  async release(): Promise<void> {
    // Nothing is held: the snapshot is plain data and no lock was taken. The trace learns what was read.
    const t = this.traced;
    if (t && this.fetched) t.trace.mailboxEvents('fetched', t.account, this.takeFetched());
  }

}
