import type { Kysely, Transaction } from 'kysely';
import { GroupCommit, writeBlob, type BlobStore, type Database } from '../../store/index.js';
import { ConflictError, NotFoundError, WorkLoop, backoffStepMs, errorMessage, type Logger, type Metrics } from '../../core/index.js';
import { formatReturnPath } from '../../wire/smtp/index.js';
import type { Accounts } from '../accounts.js';
import { deleteUnreferencedBlobs } from '../accounts.js';
import { MailboxGoneError, QuotaExceededError, type Mailboxes } from '../mailboxes.js';
import { attemptDelivery, type HostAttempt, type RecipientResult } from './attempt.js';
import { buildRelayBounce, type BounceRecipient } from './bounce.js';
import { RelayLeaseLost, type RelayBatch, type RelayQueue, type RelaySettlement } from './outbound-queue.js';
import type { RelayRoutes } from './routes.js';
import { SessionCache } from './session-cache.js';
import { relayedMessage, type RelayedMessage } from './relayed-message.js';
import type { StreamedMessage } from '../../smtp/index.js';
import type { MessageTrace, TraceEventKind } from '../trace.js';

export interface RelayWorkerOptions {
  concurrency: number;
  pollIntervalMs: number;
  leaseMs: number;
  heloName: string;
  /** Our name in DSNs (Reporting-MTA, MAILER-DAEMON@…). */
  reportingMta: string;
  timeoutMs: number;
  dataTimeoutMs: number;
  retryScheduleMs: number[];
  maxAgeMs: number;
  /** 0: no "delayed" DSN. */
  delayWarnMs: number;
  /** How long a session to a peer stays open for the next transaction (0: one session per transaction). */
  sessionIdleMs: number;
  /** Transactions one session carries at most. */
  sessionMaxTransactions: number;
  /** Larger messages are streamed from the blob store, not read whole. */
  streamAboveBytes: number;
}

export interface RelayWorkerParts {
  db: Kysely<Database>;
  blobs: BlobStore;
  queue: RelayQueue;
  routes: RelayRoutes;
  accounts: Accounts;
  mailboxes: Mailboxes;
  /** The service's shared group commit: settlements ride on deliveries' COMMITs. */
  commits: GroupCommit;
  logger: Logger;
  metrics?: Metrics | undefined;
  /** The message trace, when on: attempts and outcomes, recorded once the settlement committed. */
  trace?: MessageTrace | undefined;
}

/** What became of one batch, after its settlement committed (for tests and metrics). */
export interface SettledBatch {
  batch: RelayBatch;
  results: Map<string, RecipientResult>;
  delivered: string[];
  /** Returned to the sender (failed, or given up after maxAgeMs). */
  failed: string[];
  deferred: string[];
  /** The DSN filed into the sender's mailbox with the settlement, if any. */
  dsn: 'failed' | 'delayed' | null;
  /** False when the lease had run out and another node held the rows: nothing was settled. */
  held: boolean;
}

/**
 * Sends the relay queue: leases batches (one message, one domain), finds the route, hands the
 * message over in one SMTP transaction and settles every row with the outcome — delivered rows
 * go, refused ones go with a DSN to the sender, the rest wait for the next step of the retry
 * schedule, and once `maxAgeMs` has passed they are given up like refused ones. Woken after a
 * delivery queued rows; polls for retries, other nodes' mail and leases that ran out.
 */
export class RelayWorker {
  private readonly loop: WorkLoop<RelayBatch>;
  private readonly sessions: SessionCache;
  /** Called after each batch's settlement committed (tests await it; metrics count it). */
  onSettled?: (s: SettledBatch) => void;

  constructor(
    private readonly parts: RelayWorkerParts,
    private readonly opts: RelayWorkerOptions,
  ) {
    // As many idle sessions per peer as transactions run at once: each slot finds its own.
    this.sessions = new SessionCache({ idleMs: opts.sessionIdleMs, maxTransactions: opts.sessionMaxTransactions, maxIdlePerPeer: opts.concurrency });
    this.loop = new WorkLoop(opts, {
      claim: (max) => this.parts.queue.lease(max),
      run: (batch) => this.send(batch),
      failed: (err, batch) =>
        batch
          ? this.parts.logger.error({ queueId: batch.queueId, domain: batch.domain, err: errorMessage(err) }, 'relay batch failed unexpectedly; its lease will expire')
          : this.parts.logger.warn({ err: errorMessage(err) }, 'relay queue: leasing failed'),
    });
    for (const m of ['postamt_relay_attempts_total', 'postamt_relay_recipients_total', 'postamt_relay_dsn_total']) parts.metrics?.declare(m, 'counter', m.replace(/_/g, ' '));
  }

  start(): void {
    this.loop.start();
  }

  /** Rows were queued (after their COMMIT) or made due: look at the queue now. */
  wake(): void {
    this.loop.wake();
  }

  /** Stops leasing; waits up to `graceMs` for transactions in progress (the rest expire and are sent again); QUITs kept sessions. */
  async close(graceMs = 10_000): Promise<void> {
    await this.loop.close(graceMs);
    await this.sessions.close();
  }

  /**
   * Return to sender: an administrator ends queue entry `id` as the worker ends an expired one —
   * the row goes and the sender gets a failure DSN in the same transaction (none for a null
   * sender, or when the sender has no mailbox here). Refused (409) while a worker is sending it.
   */
  async returnToSender(id: number): Promise<SettledBatch> {
    const batch = await this.parts.queue.leaseOne(id);
    if (!batch) {
      if (await this.parts.queue.exists(id)) throw new ConflictError(`queue entry ${id} is being sent right now; try again when the attempt has ended`);
      throw new NotFoundError(`queue entry ${id} does not exist`);
    }
    let head: Buffer | null = null;
    try {
      head = (await relayedMessage(this.parts.blobs, batch.blob, this.opts.streamAboveBytes)).head;
    } catch (err) {
      // The DSN is still sent, without the original header.
      this.parts.logger.warn({ queueId: batch.queueId, err: errorMessage(err) }, 'returned message unreadable; DSN without its header');
    }
    const results = everyone(batch, { result: 'failed', status: '5.0.0', diagnostic: { type: 'x-postamt', text: 'returned to the sender by the administrator of the mail service' } });
    this.parts.logger.info({ queueId: batch.queueId, domain: batch.domain, id }, 'relay queue entry returned to the sender by an administrator');
    return this.settle(batch, results, head, [], true);
  }

  private async send(batch: RelayBatch): Promise<void> {
    let message: RelayedMessage | null = null;
    let results: Map<string, RecipientResult>;
    const hosts: HostAttempt[] = [];
    try {
      message = await relayedMessage(this.parts.blobs, batch.blob, this.opts.streamAboveBytes);
      results = await this.attempt(batch, message.data, hosts);
    } catch (err) {
      if (message) throw err;
      results = everyone(batch, { result: 'deferred', status: '4.3.0', diagnostic: { type: 'x-postamt', text: `message unreadable: ${errorMessage(err)}` } });
    }
    await this.settle(batch, results, message?.head ?? null, hosts);
  }

  /** Route, then the SMTP transaction(s); one log line per host tried. */
  private async attempt(batch: RelayBatch, message: Uint8Array | StreamedMessage, hosts: HostAttempt[]): Promise<Map<string, RecipientResult>> {
    const { logger, metrics } = this.parts;
    const rcpts = batch.rows.length;
    const route = await this.parts.routes.resolve(batch.domain);
    if (!route.ok) {
      logger.info({ queueId: batch.queueId, domain: batch.domain, host: null, code: route.status, rcpts, err: route.text }, 'relay attempt');
      metrics?.inc('postamt_relay_attempts_total', { code: route.status });
      return everyone(batch, { result: route.permanent ? 'failed' : 'deferred', status: route.status, diagnostic: { type: 'x-postamt', text: route.text } });
    }
    const log = (a: HostAttempt) => {
      hosts.push(a);
      logger.info({ queueId: batch.queueId, domain: batch.domain, ...a, rcpts }, 'relay attempt');
      metrics?.inc('postamt_relay_attempts_total', { code: String(a.code) });
    };
    // No new host after half the lease: the attempt ends while this node still holds the rows.
    const deadline = batch.leasedAt + this.opts.leaseMs / 2;
    // RFC 3461 5.2: a DSN-capable peer is told what the sender asked for; it reports success itself.
    const notify = new Map(batch.rows.flatMap((r) => (r.notify ? [[r.recipient, r.notify] as const] : [])));
    const envelope = { from: batch.mailFrom, to: batch.rows.map((r) => r.recipient), ...(notify.size ? { notify } : {}) };
    return attemptDelivery(route.targets, envelope, message, { ...this.opts, deadline, sessions: this.sessions }, log);
  }

  /** `byAdmin`: no attempt was made; an administrator ended the rows (the trace says so). */
  private async settle(batch: RelayBatch, results: Map<string, RecipientResult>, message: Buffer | null, hosts: HostAttempt[] = [], byAdmin = false): Promise<SettledBatch> {
    const now = Date.now();
    const s: RelaySettlement = { remove: [], retry: [] };
    const report: BounceRecipient[] = [];
    const out = { delivered: [] as string[], failed: [] as string[], deferred: [] as string[] };
    for (const row of batch.rows) {
      const r = results.get(row.recipient)!;
      const age = now - row.createdAt;
      if (r.result === 'delivered') {
        s.remove.push(row.id);
        out.delivered.push(row.recipient);
      } else if (r.result === 'failed' || byAdmin || age >= this.opts.maxAgeMs) {
        // Refused, or tried long enough: the last problem is what the sender is told.
        s.remove.push(row.id);
        out.failed.push(row.recipient);
        report.push({ ...r, address: row.recipient, action: 'failed', lastAttempt: new Date(now) });
      } else {
        const warn = this.opts.delayWarnMs > 0 && !row.warned && age >= this.opts.delayWarnMs;
        s.retry.push({ id: row.id, nextAttemptAt: now + backoffStepMs(this.opts.retryScheduleMs, row.attempts), error: `${r.status} ${r.diagnostic.type}; ${r.diagnostic.text}`, warned: row.warned || warn });
        out.deferred.push(row.recipient);
        if (warn) report.push({ ...r, address: row.recipient, action: 'delayed', lastAttempt: new Date(now), retryUntil: new Date(row.createdAt + this.opts.maxAgeMs) });
      }
    }
    const bounce = report.length > 0 ? await this.bounce(batch, report, message ?? Buffer.alloc(0)) : null;
    let held = true;
    let dsn: SettledBatch['dsn'] = null;
    const traced = this.parts.trace ? { trace: this.parts.trace, results, hosts, out, s, byAdmin } : null;
    const settle = (trx: Transaction<Database>) => this.parts.queue.settle(trx, batch, s);
    try {
      if (bounce) dsn = await this.fileWithBounce(batch, bounce, now, settle);
      else await this.parts.commits.submit(settle);
    } catch (err) {
      if (!(err instanceof RelayLeaseLost)) throw err;
      held = false;
      this.parts.logger.warn({ queueId: batch.queueId, domain: batch.domain }, 'relay lease ran out before the result was settled; another node has the rows now');
    }
    if (held && s.remove.length > 0) {
      await deleteUnreferencedBlobs(this.parts.db, this.parts.blobs, [batch.blob.hash]).catch((e: unknown) => this.parts.logger.warn({ err: errorMessage(e) }, 'could not remove a relayed blob'));
    }
    if (held) {
      // Recorded once the settlement committed: a lost lease leaves the trace to the node that has the rows.
      if (traced) traceSettlement(traced.trace, batch, traced, dsn);
      for (const [outcome, list] of Object.entries(out)) if (list.length) this.parts.metrics?.inc('postamt_relay_recipients_total', { outcome }, list.length);
      if (dsn) this.parts.metrics?.inc('postamt_relay_dsn_total', { action: dsn });
    }
    const settled: SettledBatch = { batch, results, ...out, dsn: held ? dsn : null, held };
    this.onSettled?.(settled);
    return settled;
  }

  /** The DSN for `report`, and whose mailbox it goes into; null when none is sent. */
  private async bounce(batch: RelayBatch, report: BounceRecipient[], message: Buffer): Promise<{ bytes: Buffer; accountId: number; kind: 'failed' | 'delayed' } | null> {
    const log = { queueId: batch.queueId, domain: batch.domain, recipients: report.map((r) => `${r.address} ${r.status}`) };
    // Never a DSN about a DSN (RFC 3461 6.2: mail from <> gets no report): only logged.
    if (batch.mailFrom === '') {
      this.parts.logger.warn(log, 'relayed mail with a null sender could not be delivered; no DSN');
      return null;
    }
    const account = await this.parts.accounts.find(batch.mailFrom);
    if (!account) {
      this.parts.logger.warn({ ...log, sender: batch.mailFrom }, 'relay DSN not sent: the sender has no mailbox here any more');
      return null;
    }
    const bytes = buildRelayBounce({ sender: batch.mailFrom, reportingMta: this.opts.reportingMta, queueId: batch.queueId, arrival: new Date(Math.min(...batch.rows.map((r) => r.createdAt))), recipients: report, message });
    return { bytes: Buffer.concat([Buffer.from(formatReturnPath(''), 'latin1'), bytes]), accountId: account.id, kind: report.some((r) => r.action === 'failed') ? 'failed' : 'delayed' };
  }

  /**
   * The DSN is filed into the sender's mailbox in the settlement's own transaction: the rows go
   * if and only if the sender is told. A DSN that cannot be filed (mailbox full or gone) is
   * logged and the rows settle without it.
   */
  private async fileWithBounce(
    batch: RelayBatch,
    bounce: { bytes: Buffer; accountId: number; kind: 'failed' | 'delayed' },
    now: number,
    settle: (trx: Transaction<Database>) => Promise<void>,
  ): Promise<'failed' | 'delayed' | null> {
    const blob = await writeBlob(this.parts.blobs, bounce.bytes);
    try {
      await this.parts.mailboxes.file(blob, [bounce.accountId], now, settle);
      this.parts.logger.info({ queueId: batch.queueId, domain: batch.domain, dsn: bounce.kind, sender: batch.mailFrom }, 'relay DSN filed');
      return bounce.kind;
    } catch (err) {
      await this.parts.blobs.delete(blob.hash).catch(() => undefined);
      if (!(err instanceof QuotaExceededError || err instanceof MailboxGoneError)) throw err;
      this.parts.logger.warn({ queueId: batch.queueId, sender: batch.mailFrom, err: errorMessage(err) }, 'relay DSN could not be filed; settled without it');
      await this.parts.commits.submit(settle);
      return null;
    }
  }
}

/** The trace's events of one settled batch: the attempt, then what it settled, then the DSN. */
function traceSettlement(
  trace: MessageTrace,
  batch: RelayBatch,
  t: { results: Map<string, RecipientResult>; hosts: HostAttempt[]; out: { delivered: string[]; failed: string[]; deferred: string[] }; s: RelaySettlement; byAdmin: boolean },
  dsn: 'failed' | 'delayed' | null,
): void {
  const nextRetry = t.s.retry.length ? new Date(Math.min(...t.s.retry.map((r) => r.nextAttemptAt))).toISOString() : null;
  const rows: Array<{ kind: TraceEventKind; detail: object }> = t.byAdmin ? [] : [
    {
      kind: 'relay-attempt',
      detail: {
        domain: batch.domain,
        attempt: Math.max(...batch.rows.map((r) => r.attempts)),
        peers: t.hosts.map((h) => ({ host: h.host, port: h.port, tls: h.tls, code: h.code, ms: Math.round(h.ms) })),
        results: Object.fromEntries([...t.results].map(([rcpt, r]) => [rcpt, { result: r.result, status: r.status, reply: r.diagnostic.text.slice(0, 500), ...(r.remoteMta ? { remoteMta: r.remoteMta } : {}) }])),
        nextRetry,
      },
    },
  ];
  if (t.out.delivered.length) rows.push({ kind: 'relayed', detail: { domain: batch.domain, recipients: t.out.delivered } });
  if (t.out.failed.length) rows.push({ kind: 'bounced', detail: { domain: batch.domain, recipients: t.out.failed, ...(t.byAdmin ? { by: 'administrator' } : {}) } });
  if (dsn) rows.push({ kind: 'dsn-sent', detail: { action: dsn, to: batch.mailFrom } });
  const status = t.out.failed.length ? 'bounced' : t.out.deferred.length ? 'deferred' : 'relayed';
  trace.events(batch.queueId, rows, status);
}

function everyone(batch: RelayBatch, r: RecipientResult): Map<string, RecipientResult> {
  return new Map(batch.rows.map((row) => [row.recipient, r]));
}
