import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';
import { columnTypes } from './column-types.js';

/**
 * The outbound queue (service/relay/, docs/mail-service.md "Relaying to other providers"): one
 * row per relayed recipient, inserted in the delivery's own transaction and referring to the
 * message's blob (store/blob-refs.ts keeps it). Rows of one message for one domain go out in one
 * SMTP transaction; a row is leased (lease_until + lease_token) while a node sends it, and
 * deleted once settled (delivered, or failed with a DSN to the sender).
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const { id, big } = columnTypes(dialect);
  await sql
    .raw(
      `create table relay_queue (
        id ${id},
        queue_id text not null,
        blob_hash text not null,
        size ${big} not null,
        mail_from text not null,
        recipient text not null,
        domain text not null,
        attempts integer not null default 0,
        next_attempt_at ${big} not null,
        lease_until ${big},
        lease_token text,
        last_error text,
        warned integer not null default 0,
        created_at ${big} not null
      )`,
    )
    .execute(db);
  // Due rows, expired leases, a message's rows for one domain (leasing a batch), a blob's owners (GC).
  const indexes = { due: 'next_attempt_at', lease: 'lease_until', message: 'queue_id, domain', blob: 'blob_hash' };
  for (const [name, columns] of Object.entries(indexes)) await sql.raw(`create index relay_queue_${name} on relay_queue (${columns})`).execute(db);
}
