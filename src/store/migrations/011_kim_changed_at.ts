import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';
import { columnTypes } from './column-types.js';

/**
 * When an account's KIM registration last changed through the Account Manager (register,
 * setAccount, deregister, revokeDeregistration, setTID), epoch milliseconds; NULL: never. The
 * operator's view of the registrations (GET /api/accounts/:address/kim) shows it, so a support
 * call about "my client module changed something" has a date to start from.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const { big } = columnTypes(dialect);
  await sql.raw(`alter table accounts add column kim_changed_at ${big}`).execute(db);
}
