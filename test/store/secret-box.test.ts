import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { STORE_KINDS, tempDir, testConfig, testDatabase } from '../helpers/env.js';
import { AGENT_SECRET, openStore, SecretBox, SECRET_KEY_FILE, type Store } from '../../src/store/index.js';
import { parseConfig } from '../../src/config/index.js';
import { MailinAdmin } from '../../src/mailin/admin.js';
import { Accounts } from '../../src/service/index.js';

const KEY_A = 'a'.repeat(16) + 'key-of-node-a-0123456789';
const KEY_B = 'b'.repeat(16) + 'key-of-node-b-0123456789';
const SECRET = 'plain-webhook-secret-4711-0815';

/** Every file under `dir` (the database, its WAL, blobs, keys), for a search of their bytes. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((n) => join(dir, n)).filter((p) => statSync(p).isFile());
}

function holding(dir: string, text: string): string[] {
  return filesUnder(dir).filter((f) => readFileSync(f).includes(Buffer.from(text)));
}

describe('secret box', () => {
  test('seals with AES-256-GCM as enc:v1:<key id>:…, opens only under the same key and purpose, refuses altered values', () => {
    const a = new SecretBox(KEY_A);
    const b = new SecretBox(KEY_B);
    const sealed = a.seal(SECRET, AGENT_SECRET);
    assert.match(sealed, /^enc:v1:[A-Za-z0-9_-]{8}:[A-Za-z0-9_-]{16}:[A-Za-z0-9_-]{22}:[A-Za-z0-9_-]+$/);
    assert.equal(sealed.split(':')[2], a.keyId);
    assert.ok(!sealed.includes(SECRET));
    assert.notEqual(a.seal(SECRET, AGENT_SECRET), sealed, 'a fresh IV every time');
    assert.equal(a.open(sealed, AGENT_SECRET), SECRET);
    assert.equal(new SecretBox(KEY_A).keyId, a.keyId, 'the key id depends on the key alone');
    assert.notEqual(b.keyId, a.keyId);
    assert.throws(() => b.open(sealed, AGENT_SECRET), new RegExp(`sealed with key ${a.keyId}, this node's key is ${b.keyId}`));
    assert.throws(() => a.open(sealed, 'accounts.other'), /damaged or altered/, 'bound to its purpose');
    const parts = sealed.split(':');
    const flipped = Buffer.from(parts[5]!, 'base64url');
    flipped[0] = flipped[0]! ^ 1;
    assert.throws(() => a.open([...parts.slice(0, 5), flipped.toString('base64url')].join(':'), AGENT_SECRET), /damaged or altered/);
    assert.throws(() => a.open([...parts.slice(0, 4), parts[4]!.slice(0, 6), parts[5]].join(':'), AGENT_SECRET), /damaged or altered/, 'a shortened tag is refused');
    assert.throws(() => a.open('enc:v1:abc', AGENT_SECRET), /malformed/);
    assert.equal(a.open('written-by-an-older-release', AGENT_SECRET), 'written-by-an-older-release');
    assert.throws(() => new SecretBox('short'), /at least 32 characters/);
  });

  test('database.secretKey comes from POSTAMT_SECRET_KEY too and must have 32 characters', () => {
    assert.equal(parseConfig({}, 'test', { POSTAMT_SECRET_KEY: KEY_A }).database.secretKey, KEY_A);
    assert.throws(() => parseConfig({ database: { secretKey: 'too-short' } }, 'test', {}), /database\.secretKey: must have at least 32 characters/);
  });
});

for (const kind of STORE_KINDS) {
  describe(`stored secrets on ${kind}`, () => {
    /** A data directory and database that outlive one store, so it can be opened again with another key. */
    async function place(t: { skip(msg: string): void }): Promise<{ open(raw?: Record<string, unknown>): Promise<Store>; dataDir: string; done(): Promise<void> } | null> {
      const db = await testDatabase(kind);
      if (!db) {
        t.skip('POSTAMT_TEST_SKIP_PG=1: PostgreSQL tests skipped explicitly');
        return null;
      }
      const dir = tempDir();
      const dataDir = join(dir.path, 'data');
      return {
        dataDir,
        open: (raw = {}) => openStore(testConfig(dataDir, { ...raw, database: { url: db.url, ...((raw.database as object) ?? {}) } })),
        done: async () => {
          await db.drop?.();
          dir.cleanup();
        },
      };
    }

    test('a store opened with another secret key is refused at start, with both key ids; without any key it is refused too', async (t) => {
      const p = await place(t);
      if (!p) return;
      try {
        const first = await p.open({ database: { secretKey: KEY_A } });
        await first.close();
        const a = new SecretBox(KEY_A).keyId;
        const b = new SecretBox(KEY_B).keyId;
        await assert.rejects(p.open({ database: { secretKey: KEY_B } }), new RegExp(`sealed with key ${a}, but this node's key \\(database.secretKey\\) is ${b}`));
        // No key configured and no key file: a new key is not generated for a store that has one.
        await assert.rejects(p.open(), new RegExp(`sealed with key ${a} and this node has no key`));
        assert.throws(() => statSync(join(p.dataDir, SECRET_KEY_FILE)), /ENOENT/);
        const again = await p.open({ database: { secretKey: KEY_A } });
        assert.equal(again.secrets.keyId, a);
        await again.close();
      } finally {
        await p.done();
      }
    });

    test('without a configured key one is generated into dataDir/secret-key (0600) and used on every later open', async (t) => {
      const p = await place(t);
      if (!p) return;
      try {
        const first = await p.open();
        const keyFile = join(p.dataDir, SECRET_KEY_FILE);
        assert.equal(statSync(keyFile).mode & 0o777, 0o600);
        const text = readFileSync(keyFile, 'utf8').trim();
        assert.equal(text.length, 43);
        assert.equal(first.secrets.keyId, new SecretBox(text).keyId);
        await first.close();
        const second = await p.open();
        assert.equal(second.secrets.keyId, new SecretBox(text).keyId);
        await second.close();
        // The same key given as database.secretKey (how a second node gets it) opens the store.
        const configured = await p.open({ database: { secretKey: text } });
        await configured.close();
      } finally {
        await p.done();
      }
    });

    test('an agent secret is written sealed and read opened; plain secrets of an older release are sealed when the store opens', async (t) => {
      const p = await place(t);
      if (!p) return;
      try {
        let store = await p.open();
        const accounts = new Accounts(store.db, store.blobs);
        await accounts.addDomain('praxis.example');
        const admin = new MailinAdmin(store.db, store.blobs, store.secrets, accounts, testConfig(p.dataDir).mailin);
        await admin.addDatabase({ address: 'approvals@praxis.example', name: 'approvals' });
        const added = await admin.addAgent('approvals@praxis.example', { trigger: 'after-delivery', webhook: 'https://erp.praxis.example/hook', secret: SECRET });
        const row = await store.db.selectFrom('mailin_agents').select(['id', 'secret']).executeTakeFirstOrThrow();
        assert.match(row.secret!, /^enc:v1:/);
        assert.equal((await admin.getAgent(Number(added.id))).secret, SECRET);
        // An older release wrote the secret as it was given.
        const legacy = 'legacy-plain-secret-from-release-1';
        await store.db.updateTable('mailin_agents').set({ secret: legacy }).where('id', '=', row.id).execute();
        await store.close();
        if (kind === 'sqlite') assert.deepEqual(holding(p.dataDir, legacy), [join(p.dataDir, 'postamt.db')], 'the old release left it in the database file');
        store = await p.open();
        const sealed = await store.db.selectFrom('mailin_agents').select('secret').where('id', '=', row.id).executeTakeFirstOrThrow();
        assert.match(sealed.secret!, new RegExp(`^enc:v1:${store.secrets.keyId}:`));
        assert.equal(store.secrets.open(sealed.secret!, AGENT_SECRET), legacy);
        // Zeroed in its page and the WAL emptied: the plain text is in no file, even while the store is open.
        if (kind === 'sqlite') assert.deepEqual(holding(p.dataDir, legacy), []);
        await store.close();
        if (kind === 'sqlite') assert.deepEqual(holding(p.dataDir, legacy), []);
      } finally {
        await p.done();
      }
    });
  });
}
