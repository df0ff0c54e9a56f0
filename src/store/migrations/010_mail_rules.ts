import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';
import { columnTypes } from './column-types.js';

/**
 * The KIM mail rules (service/mail-rules): `relay_queue.notify`, a relayed recipient's RFC 3461
 * NOTIFY= (comma-separated, NULL: none given), passed on to the peer; and the out-of-office autoreply's memory (service/mail-rules): when an account last answered a
 * sender (unix ms), so each sender gets at most one answer per interval (RFC 3834 2), on every
 * node. Rows go with their account.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const { big } = columnTypes(dialect);
  await sql
    .raw(`create table kim_autoreplies (account_id ${big} not null references accounts(id) on delete cascade, sender text not null, sent_at ${big} not null, primary key (account_id, sender))`)
    .execute(db);
  await sql.raw('alter table relay_queue add column notify text').execute(db);
}
