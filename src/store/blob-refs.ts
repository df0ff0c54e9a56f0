import type { Kysely, Transaction } from 'kysely';
import type { Database } from './schema.js';

/**
 * Which of `hashes` some row still refers to: a mailbox message or a mail-in document (one
 * delivery to an account and a mail-in address shares one blob). Every place that deletes
 * blobs asks this, so a new kind of blob owner is added here once.
 */
export async function blobsInUse(db: Kysely<Database> | Transaction<Database>, hashes: string[]): Promise<Set<string>> {
  if (hashes.length === 0) return new Set();
  const [messages, documents] = await Promise.all([
    db.selectFrom('messages').select('blob_hash').where('blob_hash', 'in', hashes).execute(),
    db.selectFrom('mailin_documents').select('blob_hash').where('blob_hash', 'in', hashes).execute(),
  ]);
  return new Set([...messages, ...documents].map((r) => r.blob_hash));
}
