import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

/** Domains, accounts, mailboxes and the database blob table. */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const id = dialect === 'postgres' ? 'bigserial' : 'integer';
  const big = dialect === 'postgres' ? 'bigint' : 'integer';
  const bytes = dialect === 'postgres' ? 'bytea' : 'blob';

  await db.schema
    .createTable('domains')
    .addColumn('name', 'text', (c) => c.primaryKey())
    .addColumn('created_at', big, (c) => c.notNull())
    .execute();

  await db.schema
    .createTable('accounts')
    .addColumn('id', id, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('address', 'text', (c) => c.notNull().unique())
    .addColumn('domain', 'text', (c) => c.notNull().references('domains.name'))
    .addColumn('display_name', 'text', (c) => c.notNull().defaultTo(''))
    .addColumn('telematik_id', 'text')
    .addColumn('password_hash', 'text', (c) => c.notNull())
    .addColumn('quota_bytes', big, (c) => c.notNull().defaultTo(0))
    .addColumn('used_bytes', big, (c) => c.notNull().defaultTo(0))
    .addColumn('disabled', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('created_at', big, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('accounts_domain').on('accounts').column('domain').execute();

  await db.schema
    .createTable('messages')
    .addColumn('id', id, (c) => (dialect === 'postgres' ? c.primaryKey() : c.primaryKey().autoIncrement()))
    .addColumn('account_id', big, (c) => c.notNull().references('accounts.id').onDelete('cascade'))
    .addColumn('blob_hash', 'text', (c) => c.notNull())
    .addColumn('size', big, (c) => c.notNull())
    .addColumn('received_at', big, (c) => c.notNull())
    .execute();
  await db.schema.createIndex('messages_account').on('messages').columns(['account_id', 'id']).execute();
  await db.schema.createIndex('messages_blob').on('messages').column('blob_hash').execute();

  await db.schema
    .createTable('blobs')
    .addColumn('hash', 'text', (c) => c.primaryKey())
    .addColumn('size', big, (c) => c.notNull())
    .addColumn('data', bytes, (c) => c.notNull())
    .addColumn('created_at', big, (c) => c.notNull())
    .execute();
  void sql;
}
