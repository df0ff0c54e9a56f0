import { sql, type Kysely } from 'kysely';
import type { Dialect } from '../dialect.js';
import { columnTypes } from './column-types.js';

/**
 * The message trace (service/trace.ts, docs/trace.md): what became of each message, for the
 * operators. `trace_messages` is one row per message seen (an accepted message's queue id, or
 * one given to a refused transaction), `trace_addresses` its sender and recipients for lookup
 * by address, `trace_events` what happened to it, in order, written by whichever node did the
 * work. No bodies, no Subject: of the header only the Message-ID. The accepted message's rows
 * were first written in the delivery's own transaction; today behind it (service/trace.ts).
 */
export async function up(db: Kysely<unknown>, dialect: Dialect): Promise<void> {
  const { id, big } = columnTypes(dialect);
  await sql
    .raw(
      `create table trace_messages (
        queue_id text primary key,
        received_at ${big} not null,
        message_id text,
        mail_from text not null,
        rcpt_count integer not null,
        size ${big},
        komle integer not null default 0,
        listener text not null,
        client_ip text,
        tls text,
        auth_user text,
        status text not null,
        node text not null
      )`,
    )
    .execute(db);
  await sql.raw(`create table trace_addresses (address text not null, queue_id text not null, received_at ${big} not null, role text not null)`).execute(db);
  await sql
    .raw(
      `create table trace_events (
        id ${id},
        queue_id text not null,
        at ${big} not null,
        kind text not null,
        node text not null,
        mailbox_message_id ${big},
        detail text not null
      )`,
    )
    .execute(db);
  const indexes = [
    // Newest first (keyset on received_at, queue_id); retention removes by received_at too.
    'create index trace_messages_time on trace_messages (received_at, queue_id)',
    'create index trace_messages_message_id on trace_messages (message_id)',
    'create index trace_addresses_address on trace_addresses (address, received_at, queue_id)',
    'create index trace_addresses_message on trace_addresses (queue_id)',
    'create index trace_events_message on trace_events (queue_id, id)',
    // A POP3 fetch or expunge names the mailbox row; only "delivered" events carry one.
    'create index trace_events_mailbox on trace_events (mailbox_message_id) where mailbox_message_id is not null',
  ];
  // No index on trace_events.at: every index is written per delivered message, and retention
  // finds events through their message (queue_id).
  for (const s of indexes) await sql.raw(s).execute(db);
}
