import { hostname } from 'node:os';
import { sql, type CompiledQuery, type Kysely, type Transaction } from 'kysely';
import type { Database, GroupCommit } from '../store/index.js';
import { PostamtError, UsageError, errorMessage, type Logger } from '../core/index.js';
import { findField, readHeaderBlock } from '../wire/mime/headers.js';
import { parseContentType } from '../wire/mime/content-type.js';

/**
 * The message trace (docs/trace.md): for each message the service saw, what became of it —
 * accepted (listener, client, TLS, AUTH user, envelope, size, Message-ID, KOM-LE or not), stored,
 * delivered into which mailboxes, refused, relay attempts and their outcome, DSNs, POP3 fetches
 * and expunges, mail-in agent runs. Rows are written by whichever node did the work, behind it:
 * what happened is recorded in memory in order and written at most `flushMs` later, many
 * messages' rows in one statement per table, through the shared group commit. Written with each
 * delivery's own transaction they cost a quarter of the SMTP throughput (more B-tree pages per
 * COMMIT, three statements per message); a trace is a log of what was done, and a crash loses at
 * most the last `flushMs` of it, never a message. Reads (list, get) write what is pending first,
 * so this node's answers always include everything it did. Never a body, a Subject or a
 * password: of the header only the Message-ID is kept, so a KOM-LE message's trace holds
 * nothing of its plaintext.
 */

export type TraceEventKind =
  | 'accepted'
  | 'stored'
  | 'delivered'
  | 'rejected'
  | 'relay-attempt'
  | 'relayed'
  | 'bounced'
  | 'dsn-sent'
  | 'fetched'
  | 'expunged'
  | 'mailin-run';

type Db = Kysely<Database> | Transaction<Database>;

export interface MessageTraceOptions {
  /** This node's name in every row it writes (service.trace.node; default the host name). */
  node?: string | undefined;
  retentionDays: number;
  /** The clock (tests control it). */
  now?: () => number;
  logger?: Logger | undefined;
  /** How long a recorded event may wait in memory before it is written (service.trace.flushMs). */
  flushMs?: number;
  /** Events waiting at most; beyond, new ones are dropped and counted (service.trace.maxPending). */
  maxPending?: number;
}

type EventRow = { kind: TraceEventKind; detail: object; mailboxMessageId?: number };

/** What waits to be written, in the order it happened. */
type TraceOp =
  | { op: 'accepted'; r: AcceptedRecord }
  | { op: 'refused'; r: RefusedRecord; at: number }
  | { op: 'events'; queueId: string; rows: EventRow[]; status?: string | undefined; at: number }
  | { op: 'mailbox'; kind: 'fetched' | 'expunged'; account: string; ids: readonly number[]; at: number };

interface RefusedRecord {
  mailFrom: string;
  recipients: readonly string[];
  refused: readonly TraceRefusal[];
  session: TraceSession;
  queueId: string;
}

/** Ops written in one flush at most: a flush is one savepoint in a group commit, and should stay short. */
const FLUSH_BATCH = 2000;
/** Rows per INSERT statement; a remainder goes in statements of the smaller sizes (few compiled shapes). */
const CHUNKS = [64, 16, 4, 1];

/** What the header says that the trace keeps: the Message-ID and whether it is KOM-LE. */
export interface HeaderFacts {
  messageId: string | null;
  komle: boolean;
}

/** A refused RCPT (or a refused message): the reply given. */
export interface TraceRefusal {
  recipient?: string;
  code: number;
  text: string;
}

export interface TraceSession {
  listener: string;
  clientIp: string;
  tls?: { protocol: string; cipher: string } | undefined;
  authUser?: string | undefined;
}

export interface AcceptedRecord {
  queueId: string;
  receivedAt: number;
  mailFrom: string;
  recipients: readonly string[];
  size: number;
  header: HeaderFacts;
  session: TraceSession;
  /** RCPTs refused earlier in the same transaction. */
  refused: readonly TraceRefusal[];
  /** Mailboxes filed into: the account's address and the new mailbox row. */
  delivered: ReadonlyArray<{ address: string; mailboxMessageId: number }>;
  /** Recipients queued for relaying and those filed to mail-in databases. */
  relayed: readonly string[];
  mailin: readonly string[];
}

export interface TraceSummary {
  id: string;
  receivedAt: string;
  messageId: string | null;
  mailFrom: string;
  recipients: number;
  size: number | null;
  komle: boolean;
  listener: string;
  status: string;
  node: string;
}

export interface TraceEvent {
  at: string;
  kind: string;
  node: string;
  detail: Record<string, unknown>;
}

export interface TraceDetail extends TraceSummary {
  clientIp: string | null;
  tls: string | null;
  authUser: string | null;
  recipientAddresses: string[];
  events: TraceEvent[];
}

export interface TraceQuery {
  messageId?: string | undefined;
  address?: string | undefined;
  /** Epoch ms, inclusive. */
  from?: number | undefined;
  /** Epoch ms, exclusive. */
  to?: number | undefined;
  limit?: number | undefined;
  cursor?: string | undefined;
}

export interface TracePage {
  items: TraceSummary[];
  /** Pass as `cursor` for the next (older) page; absent on the last. */
  next?: string;
}

const HEADER_SCAN_BYTES = 64 * 1024;

/** The Message-ID as the trace keeps and looks it up: without angle brackets, trimmed, lower case. */
export function normaliseMessageId(v: string): string {
  const t = v.trim();
  const m = /^<([^>]*)>/.exec(t);
  return (m ? m[1]! : t).trim().toLowerCase();
}

/**
 * The facts of a message's header block (at most the first 64 KiB are looked at): its
 * Message-ID and whether it is a KOM-LE message (Content-Type application/pkcs7-mime and an
 * X-KOM-LE-Version field, gemSMIME_KOMLE). A header that cannot be read gives no Message-ID.
 */
export function headerFacts(head: Uint8Array): HeaderFacts {
  try {
    const block = readHeaderBlock(head.subarray(0, HEADER_SCAN_BYTES + 4), HEADER_SCAN_BYTES);
    const mid = findField(block.fields, 'message-id')?.value;
    const ct = parseContentType(findField(block.fields, 'content-type')?.value);
    const komle = ct.mediaType === 'application/pkcs7-mime' && findField(block.fields, 'x-kom-le-version') !== undefined;
    return { messageId: mid ? normaliseMessageId(mid).slice(0, 998) || null : null, komle };
  } catch {
    return { messageId: null, komle: false };
  }
}

/**
 * Collects the start of a message as it streams past, up to the end of its header block (or
 * 64 KiB): only the first chunk or two are ever copied.
 */
export class HeaderCollector {
  private parts: Buffer[] = [];
  private bytes = 0;
  private done = false;

  push(chunk: Buffer): void {
    if (this.done) return;
    this.parts.push(chunk);
    this.bytes += chunk.length;
    if (this.bytes >= HEADER_SCAN_BYTES || chunk.includes('\r\n\r\n') || chunk.includes('\n\n')) this.done = true;
  }

  facts(): HeaderFacts {
    return headerFacts(this.parts.length === 1 ? this.parts[0]! : Buffer.concat(this.parts));
  }
}

function cursorOf(receivedAt: number, id: string): string {
  return Buffer.from(`${receivedAt}:${id}`, 'utf8').toString('base64url');
}

function parseCursor(c: string): { at: number; id: string } {
  const m = /^(\d{1,15}):([A-Za-z0-9]{1,64})$/.exec(Buffer.from(c, 'base64url').toString('utf8'));
  if (!m) throw new UsageError('cursor is not one this API gave out');
  return { at: Number(m[1]), id: m[2]! };
}

function tlsText(tls: TraceSession['tls']): string | null {
  return tls ? `${tls.protocol} ${tls.cipher}` : null;
}

export class MessageTrace {
  readonly node: string;
  readonly retentionMs: number;
  readonly now: () => number;

  constructor(
    private readonly db: Kysely<Database>,
    /** The service's shared group commit, for rows that record no transaction of their own. */
    private readonly commits: GroupCommit,
    opts: MessageTraceOptions,
  ) {
    this.node = opts.node ?? hostname();
    this.retentionMs = opts.retentionDays * 86_400_000;
    this.now = opts.now ?? Date.now;
    this.logger = opts.logger;
    this.flushMs = opts.flushMs ?? 200;
    this.maxPending = opts.maxPending ?? 100_000;
  }

  private readonly logger: Logger | undefined;
  private readonly flushMs: number;
  private readonly maxPending: number;
  private pending: TraceOp[] = [];
  private timer: NodeJS.Timeout | undefined;
  /** The flush in progress (or the last one), so flushes run one after another. */
  private flushing: Promise<void> = Promise.resolve();
  /** A flush is chained and has not started yet: another request joins it. */
  private flushQueued = false;
  private closed = false;
  /** Events dropped because maxPending were waiting (the database could not keep up). */
  dropped = 0;

  /** Events recorded while a message's delivery is under way (a before-delivery agent's run), by queue id. */
  private readonly held = new Map<string, TraceOp[]>();

  /** A delivery of `queueId` begins: its events wait for accepted(), or go with abandon(). */
  begin(queueId: string): void {
    this.held.set(queueId, []);
  }

  /** The delivery failed: what it recorded goes, as its transaction did. */
  abandon(queueId: string): void {
    this.held.delete(queueId);
  }

  /** An accepted message: its row, its addresses, and accepted, stored, delivered — once its delivery committed. */
  accepted(r: AcceptedRecord): void {
    const held = this.held.get(r.queueId);
    this.held.delete(r.queueId);
    this.record({ op: 'accepted', r });
    for (const op of held ?? []) this.record(op);
  }

  /** A transaction that ended without an accepted message (every RCPT refused, DATA refused). */
  refused(r: RefusedRecord): void {
    this.record({ op: 'refused', r, at: this.now() });
  }

  /** Events of one message; `status` updates the message's state. */
  events(queueId: string, rows: EventRow[], status?: string): void {
    if (rows.length === 0 && !status) return;
    const op: TraceOp = { op: 'events', queueId, rows, status, at: this.now() };
    const held = this.held.get(queueId);
    if (held) held.push(op);
    else this.record(op);
  }

  /**
   * POP3 and retention: events about mailbox rows (fetched, expunged), found by the "delivered"
   * event that names the row. Rows of messages the trace did not see (a DSN, mail from before)
   * are skipped.
   */
  mailboxEvents(kind: 'fetched' | 'expunged', account: string, mailboxMessageIds: readonly number[]): void {
    if (mailboxMessageIds.length === 0) return;
    this.record({ op: 'mailbox', kind, account, ids: [...mailboxMessageIds], at: this.now() });
  }

  /** Writes everything recorded so far; resolves when it is committed (or failed, which is logged). */
  flush(): Promise<void> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (!this.flushQueued) {
      this.flushQueued = true;
      this.flushing = this.flushing.then(async () => {
        this.flushQueued = false;
        while (this.pending.length > 0) {
          const ops = this.pending.splice(0, FLUSH_BATCH);
          try {
            await this.commits.submit((trx) => this.write(trx, ops));
          } catch (err) {
            this.logger?.warn({ err: errorMessage(err), events: ops.length }, 'trace: could not write recorded events');
          }
        }
      });
    }
    return this.flushing;
  }

  /** Writes what is pending and records nothing more (the service is stopping). */
  async close(): Promise<void> {
    await this.flush();
    this.closed = true;
  }

  private record(op: TraceOp): void {
    if (this.closed) return;
    if (this.pending.length >= this.maxPending) {
      if (this.dropped++ % 10_000 === 0) this.logger?.warn({ pending: this.pending.length, dropped: this.dropped }, 'trace: too many events waiting to be written, dropping');
      return;
    }
    this.pending.push(op);
    if (this.pending.length >= FLUSH_BATCH) void this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        void this.flush();
      }, this.flushMs);
      this.timer.unref();
    }
  }

  /** One flush: consecutive accepted messages in one INSERT per table, everything else in order. */
  private async write(trx: Db, ops: TraceOp[]): Promise<void> {
    let run: AcceptedRecord[] = [];
    for (const o of ops) {
      if (o.op === 'accepted') {
        run.push(o.r);
        continue;
      }
      if (run.length) await this.writeAccepted(trx, run);
      run = [];
      if (o.op === 'refused') await this.writeRefused(trx, o.r, o.at);
      else if (o.op === 'events') await this.writeEvents(trx, o.queueId, o.at, o.rows, o.status);
      else await this.writeMailboxEvents(trx, o.kind, o.account, o.ids, o.at);
    }
    if (run.length) await this.writeAccepted(trx, run);
  }

  private async writeAccepted(trx: Db, records: readonly AcceptedRecord[]): Promise<void> {
    const messages: Array<Record<string, string | number | null>> = [];
    const addresses: Array<Record<string, string | number | null>> = [];
    const events: Array<Record<string, string | number | null>> = [];
    for (const r of records) {
      messages.push({
        queue_id: r.queueId,
        received_at: r.receivedAt,
        message_id: r.header.messageId,
        mail_from: r.mailFrom.toLowerCase(),
        rcpt_count: r.recipients.length,
        size: r.size,
        komle: r.header.komle ? 1 : 0,
        listener: r.session.listener,
        client_ip: r.session.clientIp,
        tls: tlsText(r.session.tls),
        auth_user: r.session.authUser ?? null,
        status: r.relayed.length > 0 ? 'queued' : 'delivered',
        node: this.node,
      });
      addresses.push(...addressRows(r.queueId, r.receivedAt, r.mailFrom, r.recipients));
      const rows: EventRow[] = [
        {
          kind: 'accepted',
          detail: {
            listener: r.session.listener,
            clientIp: r.session.clientIp,
            tls: r.session.tls ?? null,
            authUser: r.session.authUser ?? null,
            mailFrom: r.mailFrom,
            recipients: r.recipients,
            size: r.size,
            messageId: r.header.messageId,
            komle: r.header.komle,
            ...(r.refused.length ? { refused: r.refused } : {}),
          },
        },
        {
          kind: 'stored',
          detail: {
            size: r.size,
            content: r.header.komle ? 'ciphertext' : 'message',
            mailboxes: r.delivered.map((d) => d.mailboxMessageId),
            ...(r.relayed.length ? { queuedForRelay: r.relayed } : {}),
            ...(r.mailin.length ? { mailin: r.mailin } : {}),
          },
        },
        ...r.delivered.map((d) => ({ kind: 'delivered' as const, detail: { mailbox: d.address }, mailboxMessageId: d.mailboxMessageId })),
      ];
      events.push(...this.eventRows(r.queueId, r.receivedAt, rows));
    }
    await this.insertRows(trx, 'trace_messages', messages, true);
    await this.insertRows(trx, 'trace_addresses', addresses);
    await this.insertRows(trx, 'trace_events', events);
  }

  private async writeRefused(trx: Db, r: RefusedRecord, at: number): Promise<void> {
    await this.insertRows(trx, 'trace_messages', [
      {
        queue_id: r.queueId,
        received_at: at,
        message_id: null,
        mail_from: r.mailFrom.toLowerCase(),
        rcpt_count: r.recipients.length,
        size: null,
        komle: 0,
        listener: r.session.listener,
        client_ip: r.session.clientIp,
        tls: tlsText(r.session.tls),
        auth_user: r.session.authUser ?? null,
        status: 'rejected',
        node: this.node,
      },
    ]);
    const all = [...new Set([...r.recipients, ...r.refused.flatMap((x) => (x.recipient ? [x.recipient] : []))])];
    await this.insertRows(trx, 'trace_addresses', addressRows(r.queueId, at, r.mailFrom, all));
    await this.insertRows(
      trx,
      'trace_events',
      this.eventRows(r.queueId, at, [
        { kind: 'rejected', detail: { listener: r.session.listener, clientIp: r.session.clientIp, tls: r.session.tls ?? null, authUser: r.session.authUser ?? null, mailFrom: r.mailFrom, recipients: r.recipients, refused: r.refused } },
      ]),
    );
  }

  private async writeEvents(trx: Db, queueId: string, at: number, rows: EventRow[], status: string | undefined): Promise<void> {
    await this.insertRows(trx, 'trace_events', this.eventRows(queueId, at, rows));
    if (!status) return;
    // Another node may not have written the message's row yet (it writes behind, too): then a
    // stub carries the status, and the message's row fills it in without touching the status.
    await trx
      .insertInto('trace_messages')
      .values({ queue_id: queueId, received_at: at, message_id: null, mail_from: '', rcpt_count: 0, size: null, komle: 0, listener: '', client_ip: null, tls: null, auth_user: null, status, node: this.node })
      .onConflict((oc) => oc.column('queue_id').doUpdateSet({ status }))
      .execute();
  }

  private async writeMailboxEvents(trx: Db, kind: 'fetched' | 'expunged', account: string, mailboxMessageIds: readonly number[], at: number): Promise<void> {
    const found = await trx
      .selectFrom('trace_events')
      .select(['queue_id', 'mailbox_message_id'])
      .where('mailbox_message_id', 'in', [...mailboxMessageIds])
      .where('kind', '=', 'delivered')
      .execute();
    if (found.length === 0) return;
    await this.insertRows(
      trx,
      'trace_events',
      found.map((f) => ({ queue_id: f.queue_id, at, kind, node: this.node, mailbox_message_id: null, detail: JSON.stringify({ mailbox: account, mailboxMessageId: f.mailbox_message_id }) })),
    );
  }

  private eventRows(queueId: string, at: number, rows: readonly EventRow[]): Array<Record<string, string | number | null>> {
    return rows.map((r) => ({ queue_id: queueId, at, kind: r.kind, node: this.node, mailbox_message_id: r.mailboxMessageId ?? null, detail: JSON.stringify(r.detail) }));
  }

  /**
   * Rows that all have the same columns, in INSERTs of CHUNKS' sizes, each shape compiled once:
   * Kysely builds and compiles a query anew on each call, which on the delivery path cost more
   * than the statements themselves (see mailboxes.ts blobsFrom).
   */
  private readonly compiled = new Map<string, CompiledQuery>();

  private async insertRows<T extends 'trace_messages' | 'trace_addresses' | 'trace_events'>(trx: Db, table: T, rows: Array<Record<string, string | number | null>>, keepStatus = false): Promise<void> {
    if (rows.length === 0) return;
    const columns = Object.keys(rows[0]!);
    // A message's row over a stub another node's status update left (writeEvents): all but the status.
    const upsert = keepStatus ? Object.fromEntries(columns.filter((c) => c !== 'queue_id' && c !== 'status').map((c) => [c, sql.ref(`excluded.${c}`)])) : undefined;
    let at = 0;
    for (const size of CHUNKS) {
      while (rows.length - at >= size) {
        const chunk = rows.slice(at, at + size);
        at += size;
        const key = `${table}|${columns.join(',')}|${size}|${upsert ? 'upsert' : ''}`;
        let q = this.compiled.get(key);
        if (!q) {
          const insert = trx.insertInto(table).values(chunk as never);
          q = (upsert ? insert.onConflict((oc) => oc.column('queue_id' as never).doUpdateSet(upsert as never)) : insert).compile();
          this.compiled.set(key, q);
        }
        const parameters: unknown[] = [];
        for (const row of chunk) for (const c of columns) parameters.push(row[c]);
        await trx.executeQuery({ ...q, parameters });
      }
    }
  }

  /** Messages newest first, one page; filters combine (AND). */
  async list(q: TraceQuery): Promise<TracePage> {
    await this.flush();
    const limit = q.limit ?? 50;
    let query = this.db.selectFrom('trace_messages').selectAll();
    if (q.messageId !== undefined) query = query.where('message_id', '=', normaliseMessageId(q.messageId));
    if (q.address !== undefined) {
      const address = q.address.trim().toLowerCase();
      query = query.where('queue_id', 'in', (eb) => eb.selectFrom('trace_addresses').select('queue_id').where('address', '=', address));
    }
    if (q.from !== undefined) query = query.where('received_at', '>=', q.from);
    if (q.to !== undefined) query = query.where('received_at', '<', q.to);
    if (q.cursor !== undefined) {
      const c = parseCursor(q.cursor);
      query = query.where((eb) => eb.or([eb('received_at', '<', c.at), eb.and([eb('received_at', '=', c.at), eb('queue_id', '<', c.id)])]));
    }
    const rows = await query.orderBy('received_at', 'desc').orderBy('queue_id', 'desc').limit(limit + 1).execute();
    const page = rows.slice(0, limit);
    const last = page.at(-1);
    return { items: page.map(summary), ...(rows.length > limit && last ? { next: cursorOf(last.received_at, last.queue_id) } : {}) };
  }

  /** One message with its events in order; NotFound when the trace has no such message. */
  async get(queueId: string): Promise<TraceDetail> {
    await this.flush();
    const m = await this.db.selectFrom('trace_messages').selectAll().where('queue_id', '=', queueId).executeTakeFirst();
    if (!m) throw new PostamtError('not-found', `no traced message ${queueId}`);
    const [addresses, events] = await Promise.all([
      this.db.selectFrom('trace_addresses').select(['address', 'role']).where('queue_id', '=', queueId).execute(),
      // By time, then as written: nodes write behind, so another node's later event may have the smaller id.
      this.db.selectFrom('trace_events').select(['at', 'kind', 'node', 'detail']).where('queue_id', '=', queueId).orderBy('at').orderBy('id').execute(),
    ]);
    return {
      ...summary(m),
      clientIp: m.client_ip,
      tls: m.tls,
      authUser: m.auth_user,
      recipientAddresses: addresses.filter((a) => a.role === 'to').map((a) => a.address),
      events: events.map((e) => ({ at: new Date(e.at).toISOString(), kind: e.kind, node: e.node, detail: JSON.parse(e.detail) as Record<string, unknown> })),
    };
  }

  /** Removes the traces of messages received more than retentionDays ago; returns how many messages went. */
  async purge(): Promise<number> {
    await this.flush();
    const cutoff = this.now() - this.retentionMs;
    return this.db.transaction().execute(async (trx) => {
      const old = trx.selectFrom('trace_messages').select('queue_id').where('received_at', '<', cutoff);
      await trx.deleteFrom('trace_events').where('queue_id', 'in', old).execute();
      await trx.deleteFrom('trace_addresses').where('queue_id', 'in', old).execute();
      const r = await trx.deleteFrom('trace_messages').where('received_at', '<', cutoff).executeTakeFirst();
      return Number(r.numDeletedRows);
    });
  }

  /** Every row of the trace tables as text (tests grep it for what must never be there). */
  async dumpForTests(): Promise<string> {
    await this.flush();
    const parts = await Promise.all(['trace_messages', 'trace_addresses', 'trace_events'].map((t) => sql.raw(`select * from ${t}`).execute(this.db)));
    return parts.map((p) => JSON.stringify(p.rows)).join('\n');
  }
}

/** The sender's and recipients' rows of trace_addresses, each address once per role. */
function addressRows(queueId: string, at: number, mailFrom: string, recipients: readonly string[]): Array<Record<string, string | number | null>> {
  return [
    ...(mailFrom ? [{ address: mailFrom.toLowerCase(), queue_id: queueId, received_at: at, role: 'from' }] : []),
    ...[...new Set(recipients.map((a) => a.toLowerCase()))].map((address) => ({ address, queue_id: queueId, received_at: at, role: 'to' })),
  ];
}

function summary(m: Database['trace_messages']): TraceSummary {
  return {
    id: m.queue_id,
    receivedAt: new Date(m.received_at).toISOString(),
    messageId: m.message_id,
    mailFrom: m.mail_from,
    recipients: m.rcpt_count,
    size: m.size,
    komle: m.komle === 1,
    listener: m.listener,
    status: m.status,
    node: m.node,
  };
}
