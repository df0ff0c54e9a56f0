import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';
import { columnTypes } from './column-types.js';

/**
 * Per-account limits of KIM's I_AccountLimit_Service (docs/kim-provider-apis.md):
 * `data_ttl_days` (dataTimeToLive: messages older than this are deleted by the retention job)
 * and `max_mail_size` (maxMailSize, bytes). NULL means "the configured default"
 * (service.kim.defaults), so changing the default reaches every account not set on its own.
 * The index on messages.received_at lets the retention job find old messages without a scan.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const { big } = columnTypes(dialect);
  await sql.raw('alter table accounts add column data_ttl_days integer').execute(db);
  await sql.raw(`alter table accounts add column max_mail_size ${big}`).execute(db);
  await sql.raw('create index messages_received on messages (received_at, id)').execute(db);
}
