import { sql, type Kysely, type Transaction } from 'kysely';
import type { Database, Dialect } from '../../store/index.js';
import { PostamtError, randomHex } from '../../core/index.js';
import { domainOf } from '../addresses.js';

/** One recipient of a leased batch. */
export interface RelayRow {
  id: number;
  recipient: string;
  /** Attempts started, this one included. */
  attempts: number;
  createdAt: number;
  /** The "delayed" DSN was sent already. */
  warned: boolean;
  /** RCPT's NOTIFY= as the sender gave it, passed on to the peer. */
  notify?: string[];
}

/** The rows of one message for one domain, leased together: one SMTP transaction carries them. */
export interface RelayBatch {
  queueId: string;
  domain: string;
  mailFrom: string;
  blob: { hash: string; size: number };
  rows: RelayRow[];
  leaseToken: string;
  leasedAt: number;
}

/** How a batch ends: rows done with (delivered or returned) go, the others wait for their next attempt. */
export interface RelaySettlement {
  remove: number[];
  retry: Array<{ id: number; nextAttemptAt: number; error: string; warned: boolean }>;
}

/** The batch's lease expired and another node holds its rows now: this node's result is void. */
export class RelayLeaseLost extends PostamtError {
  constructor(queueId: string) {
    super('conflict', `relay lease on ${queueId} lost`);
    this.name = 'RelayLeaseLost';
  }
}

/**
 * The outbound queue in the store (table relay_queue, one row per relayed recipient). Rows are
 * inserted in the delivery's own transaction, so a 250 means they exist. A worker leases the due
 * rows of a few (message, domain) pairs at once: attempts + 1, a lease until now + leaseMs and a
 * token. A node that dies holding a lease lets it expire and any node leases the rows again — at
 * least once. Only the holder of the token may settle, so a late result after expiry changes
 * nothing. On PostgreSQL concurrent workers skip each other's rows (FOR UPDATE SKIP LOCKED);
 * SQLite has one writer at a time, which makes the leasing UPDATE atomic by itself.
 */
export class RelayQueue {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly dialect: Dialect,
    private readonly leaseMs: number,
  ) {}

  /** Queues the recipients of one accepted message, inside the delivery's transaction. */
  async enqueue(
    trx: Kysely<Database> | Transaction<Database>,
    msg: { queueId: string; blob: { hash: string; size: number }; mailFrom: string; recipients: readonly string[]; now: number; notify?: ReadonlyMap<string, readonly string[]> | undefined },
  ): Promise<void> {
    if (msg.recipients.length === 0) return;
    await trx
      .insertInto('relay_queue')
      .values(
        msg.recipients.map((recipient) => ({
          queue_id: msg.queueId,
          blob_hash: msg.blob.hash,
          size: msg.blob.size,
          mail_from: msg.mailFrom,
          recipient,
          domain: domainOf(recipient),
          attempts: 0,
          next_attempt_at: msg.now,
          lease_until: null,
          lease_token: null,
          last_error: null,
          warned: 0,
          created_at: msg.now,
          notify: msg.notify?.get(recipient)?.join(',') ?? null,
        })),
      )
      .execute();
  }

  /** Leases the due rows of up to `maxBatches` (message, domain) pairs, oldest due first. */
  async lease(maxBatches: number, now = Date.now()): Promise<RelayBatch[]> {
    const token = randomHex(12);
    const lock = this.dialect === 'postgres' ? sql`for update skip locked` : sql``;
    // Due: waiting and its time has come, or leased by a node that let the lease run out.
    const due = (t: string) => sql`((${sql.ref(`${t}.lease_until`)} is null and ${sql.ref(`${t}.next_attempt_at`)} <= ${now}) or ${sql.ref(`${t}.lease_until`)} < ${now})`;
    // Most polls find nothing due: a read first keeps an idle queue from writing (on SQLite each
    // write, even one that changes no row, costs a WAL sync).
    const any = await this.db.selectFrom('relay_queue').select('id').where(sql<boolean>`${due('relay_queue')}`).limit(1).executeTakeFirst();
    if (!any) return [];
    // A pair is claimed through its leader, its lowest due row: concurrent workers lock leaders
    // (skipping each other's), so a pair is always leased whole by one of them, never split.
    const rows = await sql<{ id: number; queue_id: string; domain: string; recipient: string; mail_from: string; blob_hash: string; size: number; attempts: number; warned: number; created_at: number; notify: string | null }>`
      update relay_queue
         set attempts = attempts + 1,
             lease_token = ${token},
             lease_until = ${now + this.leaseMs}
       where id in (
         select r.id from relay_queue r
          where ${due('r')}
            and (r.queue_id, r.domain) in (
                  select l.queue_id, l.domain from relay_queue l
                   where ${due('l')}
                     and not exists (
                           select 1 from relay_queue p
                            where p.queue_id = l.queue_id and p.domain = l.domain and p.id < l.id and ${due('p')})
                   order by l.next_attempt_at, l.id
                   limit ${maxBatches}
                   ${lock}))
      returning id, queue_id, domain, recipient, mail_from, blob_hash, size, attempts, warned, created_at, notify`.execute(this.db);
    const batches = new Map<string, RelayBatch>();
    for (const r of rows.rows) {
      const key = `${r.queue_id} ${r.domain}`;
      let b = batches.get(key);
      if (!b) {
        b = { queueId: r.queue_id, domain: r.domain, mailFrom: r.mail_from, blob: { hash: r.blob_hash, size: Number(r.size) }, rows: [], leaseToken: token, leasedAt: now };
        batches.set(key, b);
      }
      b.rows.push({ id: Number(r.id), recipient: r.recipient, attempts: Number(r.attempts), createdAt: Number(r.created_at), warned: Number(r.warned) === 1, ...(r.notify ? { notify: r.notify.split(',') } : {}) });
    }
    for (const b of batches.values()) b.rows.sort((x, y) => x.id - y.id);
    return [...batches.values()];
  }

  /**
   * Leases one row by its id for an administrator's decision (Return to sender), without
   * counting an attempt. Null when a worker holds it now (its attempt decides first) or it
   * does not exist; `exists` tells the two apart.
   */
  async leaseOne(id: number, now = Date.now()): Promise<RelayBatch | null> {
    const token = randomHex(12);
    const r = await this.db
      .updateTable('relay_queue')
      .set({ lease_token: token, lease_until: now + this.leaseMs })
      .where('id', '=', id)
      .where((eb) => eb.or([eb('lease_until', 'is', null), eb('lease_until', '<', now)]))
      .returning(['id', 'queue_id', 'domain', 'recipient', 'mail_from', 'blob_hash', 'size', 'attempts', 'warned', 'created_at'])
      .executeTakeFirst();
    if (!r) return null;
    return {
      queueId: r.queue_id,
      domain: r.domain,
      mailFrom: r.mail_from,
      blob: { hash: r.blob_hash, size: Number(r.size) },
      rows: [{ id: Number(r.id), recipient: r.recipient, attempts: Number(r.attempts), createdAt: Number(r.created_at), warned: Number(r.warned) === 1 }],
      leaseToken: token,
      leasedAt: now,
    };
  }

  async exists(id: number): Promise<boolean> {
    return (await this.db.selectFrom('relay_queue').select('id').where('id', '=', id).executeTakeFirst()) !== undefined;
  }

  /**
   * Settles a leased batch in `trx` (with the DSN filed in the same transaction, when there is
   * one). Throws RelayLeaseLost when a row is no longer this batch's, so the caller's savepoint
   * undoes the rest (the DSN included).
   */
  async settle(trx: Kysely<Database> | Transaction<Database>, batch: RelayBatch, s: RelaySettlement): Promise<void> {
    let expected = 0;
    let changed = 0;
    if (s.remove.length > 0) {
      const r = await trx.deleteFrom('relay_queue').where('id', 'in', s.remove).where('lease_token', '=', batch.leaseToken).executeTakeFirst();
      expected += s.remove.length;
      changed += Number(r.numDeletedRows);
    }
    // Rows of one batch nearly always share their next attempt: one UPDATE per distinct outcome.
    const groups = new Map<string, { ids: number[]; set: { next_attempt_at: number; last_error: string; warned: number } }>();
    for (const r of s.retry) {
      const set = { next_attempt_at: r.nextAttemptAt, last_error: r.error.slice(0, 1000), warned: r.warned ? 1 : 0 };
      const key = JSON.stringify(set);
      const g = groups.get(key) ?? { ids: [], set };
      g.ids.push(r.id);
      groups.set(key, g);
    }
    for (const g of groups.values()) {
      const r = await trx
        .updateTable('relay_queue')
        .set({ ...g.set, lease_until: null, lease_token: null })
        .where('id', 'in', g.ids)
        .where('lease_token', '=', batch.leaseToken)
        .executeTakeFirst();
      expected += g.ids.length;
      changed += Number(r.numUpdatedRows);
    }
    if (changed !== expected) throw new RelayLeaseLost(batch.queueId);
  }
}
