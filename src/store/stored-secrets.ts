import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sql } from 'kysely';
import type { Config } from '../config/index.js';
import { PostamtError } from '../core/index.js';
import type { DatabaseHandle } from './db.js';
import { mkdirPrivate } from './data-dir.js';
import { SecretBox } from './secret-box.js';

/** The purpose a mail-in agent's webhook secret is sealed under (its column). */
export const AGENT_SECRET = 'mailin_agents.secret';

/** Where the key comes from when none is configured: generated at first start, 0600. */
export const SECRET_KEY_FILE = 'secret-key';

const KEY_ID = 'secret_key_id';

function refuse(message: string): PostamtError {
  return new PostamtError('secret-key', `${message} (docs/mail-service.md, "Data directory and stored secrets")`);
}

/**
 * The store's SecretBox, checked against the key the store's secrets were sealed with, and
 * every secret an older release stored in plain text sealed (see sealPlainSecrets). The key is
 * `database.secretKey` (or env POSTAMT_SECRET_KEY), else dataDir/secret-key, generated on the
 * first open of a store that has no key yet.
 */
export async function openSecretBox(config: Config, handle: DatabaseHandle): Promise<SecretBox> {
  const recorded = (await handle.db.selectFrom('store_meta').select('value').where('name', '=', KEY_ID).executeTakeFirst())?.value;
  const { text, source } = keyText(config, recorded);
  const box = new SecretBox(text);
  if (recorded === undefined) {
    // Two nodes starting together on a new PostgreSQL store: the first key recorded wins.
    await handle.db.insertInto('store_meta').values({ name: KEY_ID, value: box.keyId }).onConflict((oc) => oc.column('name').doNothing()).execute();
  }
  const now = recorded ?? (await handle.db.selectFrom('store_meta').select('value').where('name', '=', KEY_ID).executeTakeFirstOrThrow()).value;
  if (now !== box.keyId) {
    throw refuse(
      `${handle.describe}: its stored secrets are sealed with key ${now}, but this node's key (${source}) is ${box.keyId}; ` +
        'every node of a store needs the same key (database.secretKey or POSTAMT_SECRET_KEY)',
    );
  }
  await sealPlainSecrets(handle, box);
  return box;
}

function keyText(config: Config, recorded: string | undefined): { text: string; source: string } {
  if (config.database.secretKey) return { text: config.database.secretKey, source: 'database.secretKey' };
  const file = join(config.dataDir, SECRET_KEY_FILE);
  const read = () => {
    const text = readFileSync(file, 'utf8').trim();
    if (text.length < 32) throw refuse(`${file} holds no usable key (fewer than 32 characters)`);
    return { text, source: file };
  };
  if (existsSync(file)) return read();
  // A store with sealed secrets is never given a new key: nothing sealed would open.
  if (recorded !== undefined) {
    throw refuse(`the store's secrets are sealed with key ${recorded} and this node has no key: set database.secretKey or POSTAMT_SECRET_KEY to the key the other nodes use (their ${SECRET_KEY_FILE} file)`);
  }
  mkdirPrivate(config.dataDir);
  try {
    writeFileSync(file, `${SecretBox.generateKeyText()}\n`, { mode: 0o600, flag: 'wx' });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err; // another process was first: use its key
  }
  return read();
}

/**
 * Seals the secrets an older release stored in plain text (a one-time step, like a migration,
 * but it needs the key). On SQLite the update runs with secure_delete on, so the old value is
 * zeroed in its page, and a TRUNCATE checkpoint then copies the pages into the database file and
 * empties the WAL: the plain text is left in neither file.
 */
async function sealPlainSecrets(handle: DatabaseHandle, box: SecretBox): Promise<number> {
  const { db } = handle;
  const rows = await db.selectFrom('mailin_agents').select(['id', 'secret']).where('secret', 'is not', null).execute();
  const plain = rows.filter((r) => !SecretBox.isSealed(r.secret!));
  if (plain.length === 0) return 0;
  const sqlite = handle.dialect === 'sqlite';
  const before = sqlite ? (await sql<{ secure_delete: number }>`pragma secure_delete`.execute(db)).rows[0]?.secure_delete : undefined;
  if (sqlite) await sql`pragma secure_delete = on`.execute(db);
  try {
    await db.transaction().execute(async (trx) => {
      for (const r of plain) {
        await trx.updateTable('mailin_agents').set({ secret: box.seal(r.secret!, AGENT_SECRET) }).where('id', '=', r.id).where('secret', '=', r.secret).execute();
      }
    });
    if (sqlite) await sql`pragma wal_checkpoint(TRUNCATE)`.execute(db);
  } finally {
    if (sqlite) await sql.raw(`pragma secure_delete = ${Number(before ?? 0)}`).execute(db);
  }
  return plain.length;
}
