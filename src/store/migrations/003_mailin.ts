import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';

/**
 * Mail-in databases (mailin/, docs/mailin.md): an address whose mail becomes documents, the
 * agents that react to it, the durable job queue of after-delivery agents and the run history.
 * A job is unique per (agent, document): that pair is the idempotency key, so enqueueing twice
 * cannot make two jobs. At most one before-delivery agent per database is a partial unique index
 * (both SQLite and PostgreSQL have them), so the rule holds even for concurrent `agent add`s.
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const pg = dialect === 'postgres';
  const id = pg ? 'bigserial primary key' : 'integer primary key autoincrement';
  const big = pg ? 'bigint' : 'integer';

  await sql
    .raw(
      `create table mailin_dbs (
        id ${id},
        address text not null unique,
        domain text not null references domains(name),
        name text not null,
        description text not null default '',
        created_at ${big} not null
      )`,
    )
    .execute(db);

  await sql
    .raw(
      `create table mailin_documents (
        id ${id},
        uid text not null unique,
        db_id ${big} not null references mailin_dbs(id) on delete cascade,
        blob_hash text not null,
        size ${big} not null,
        received_at ${big} not null,
        queue_id text not null,
        mail_from text not null,
        rcpt_to text not null,
        folder text not null default '',
        from_addr text not null default '',
        to_addrs text not null default '',
        subject text not null default '',
        date ${big},
        message_id text not null default '',
        kim text not null default '{}',
        text_body text not null default '',
        attachments text not null default '[]'
      )`,
    )
    .execute(db);
  await sql.raw('create index mailin_documents_db on mailin_documents (db_id, received_at, id)').execute(db);
  await sql.raw('create index mailin_documents_blob on mailin_documents (blob_hash)').execute(db);

  await sql
    .raw(
      `create table mailin_agents (
        id ${id},
        db_id ${big} not null references mailin_dbs(id) on delete cascade,
        name text not null default '',
        trigger text not null,
        kind text not null,
        url text,
        secret text,
        script_path text,
        timeout_ms ${big} not null,
        on_failure text not null default 'tempfail',
        include_raw integer not null default 0,
        created_at ${big} not null
      )`,
    )
    .execute(db);
  await sql.raw(`create unique index mailin_agents_one_before on mailin_agents (db_id) where trigger = 'before-delivery'`).execute(db);

  await sql
    .raw(
      `create table mailin_jobs (
        id ${id},
        agent_id ${big} not null references mailin_agents(id) on delete cascade,
        document_id ${big} not null references mailin_documents(id) on delete cascade,
        state text not null,
        attempts integer not null default 0,
        next_run_at ${big} not null,
        lease_until ${big},
        lease_token text,
        last_error text,
        created_at ${big} not null,
        updated_at ${big} not null
      )`,
    )
    .execute(db);
  await sql.raw('create unique index mailin_jobs_key on mailin_jobs (agent_id, document_id)').execute(db);
  await sql.raw('create index mailin_jobs_due on mailin_jobs (state, next_run_at)').execute(db);
  await sql.raw('create index mailin_jobs_document on mailin_jobs (document_id)').execute(db);

  await sql
    .raw(
      `create table mailin_runs (
        id ${id},
        agent_id ${big} not null references mailin_agents(id) on delete cascade,
        db_id ${big} not null references mailin_dbs(id) on delete cascade,
        document_id ${big} references mailin_documents(id) on delete set null,
        document_uid text not null,
        job_id ${big},
        trigger text not null,
        attempt integer not null,
        started_at ${big} not null,
        ended_at ${big} not null,
        outcome text not null,
        http_status integer,
        error text
      )`,
    )
    .execute(db);
  await sql.raw('create index mailin_runs_agent on mailin_runs (agent_id, id)').execute(db);
  await sql.raw('create index mailin_runs_db on mailin_runs (db_id, id)').execute(db);
}
