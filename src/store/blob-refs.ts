import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

/**
 * Which of `hashes` some row still refers to: a mailbox message, a mail-in document or a
 * recipient waiting in the relay queue (one delivery to accounts, mail-in addresses and other
 * providers shares one blob). Every place that deletes blobs asks this, so a new kind of blob
 * owner is added here once.
 */
export async function blobsInUse(db: Kysely<Database> | Transaction<Database>, hashes: string[]): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const [messages, documents, queued] = await Promise.all([
    db.selectFrom('messages').select('blob_hash').where('blob_hash', 'in', hashes).execute(),
    db.selectFrom('mailin_documents').select('blob_hash').where('blob_hash', 'in', hashes).execute(),
    db.selectFrom('relay_queue').select('blob_hash').where('blob_hash', 'in', hashes).execute(),
  ]);
  return new Set([...messages, ...documents, ...queued].map((r) => r.blob_hash));
}
