import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { openTestStore, STORE_KINDS, type TestStore } from '../helpers/env.js';
import { testCertificates, generatedLdif } from '../helpers/directory.js';
import { Directory, DirectoryLdapBackend, importLdif, exportLdif } from '../../src/directory/index.js';
import { parseFilter } from '../../src/wire/ldap/index.js';
import { collect } from '../helpers/stream.js';

const BASE = 'dc=data,dc=vzd';
const N = 100_000;

function source(s: string): AsyncIterable<Buffer> {
  return Readable.from([Buffer.from(s, 'utf8')]);
}

for (const kind of STORE_KINDS) {
  describe(`directory import/export on ${kind}`, () => {
    let ts: TestStore | null;
    let dir: Directory;
    let cert: Buffer | undefined;
    before(async () => {
      ts = await openTestStore(kind);
      if (!ts) return;
      dir = new Directory(ts.store, { baseDn: BASE });
      [cert] = await testCertificates(1);
    });
    after(async () => ts?.close());

    test(`a generated ${N}-entry LDIF imports in one transaction (timed, not asserted)`, async (t) => {
      if (!ts) return t.skip('PostgreSQL tests skipped by POSTAMT_TEST_SKIP_PG=1');
      const progress: number[] = [];
      const r = await importLdif(dir, Readable.from(generatedLdif(N, cert!)), { onProgress: (p) => progress.push(p.records), progressEvery: 10_000 });
      t.diagnostic(`${kind}: imported ${r.added} entries (${(r.bytes / 1e6).toFixed(1)} MB) in ${(r.ms / 1000).toFixed(2)} s`);
      assert.equal(r.applied, true);
      assert.equal(r.added, N);
      assert.equal(r.rejectedCount, 0);
      assert.equal(progress.at(-1), N);
      assert.equal(await dir.count(), N);
      const backend = new DirectoryLdapBackend(dir, { authenticate: async () => null });
      const started = process.hrtime.bigint();
      const lookups = 5000;
      for (let k = 0; k < lookups; k++) {
        const i = (k * 7919) % N;
        let n = 0;
        for await (const e of backend.search({ baseDn: BASE, scope: 'sub', filter: { type: 'equality', attribute: 'mail', value: Buffer.from(`praxis${i}@anbieter.kim.telematik`) }, attributes: ['userCertificate;binary'], typesOnly: false, limit: 101, signal: new AbortController().signal })) {
          assert.ok(e.attributes[0]!.values[0]!.equals(cert!));
          n++;
        }
        assert.equal(n, 1);
      }
      const us = Number(process.hrtime.bigint() - started) / 1000 / lookups;
      t.diagnostic(`${kind}: (mail=…) with userCertificate;binary, mostly uncached: ${us.toFixed(1)} µs per search, sequential`);
      const prefix = (await collect(dir.search({ baseDn: BASE, scope: 'one', filter: parseFilter('(displayName=Praxis 12 *)'), limit: 101 }))).map((h) => h.dn);
      assert.equal(prefix.length, 100);
    });

    test('rejected records are reported with line numbers and nothing is applied', async (t) => {
      if (!ts) return t.skip('PostgreSQL tests skipped by POSTAMT_TEST_SKIP_PG=1');
      const before = await dir.count();
      const ldif = [
        'version: 1',
        '',
        'dn: uid=new1,dc=data,dc=vzd', // 3: fine
        'telematikID: 3-new1',
        'displayName: Neu 1',
        '',
        'dn: uid=e1,dc=data,dc=vzd', // 7: exists already
        'telematikID: 3-other',
        'displayName: X',
        '',
        'dn: uid=new2,dc=data,dc=vzd', // 11: telematikID of e5
        'telematikID: 1-5',
        'displayName: X',
        '',
        'dn: uid=new3,dc=data,dc=vzd', // 15: unknown attribute
        'telematikID: 3-new3',
        'displayName: X',
        'shoeSize: 44',
        '',
        'dn: cn=wrong,dc=elsewhere', // 20: wrong DN
        'telematikID: 3-new4',
        'displayName: X',
        '',
        'dn: uid=new1,dc=data,dc=vzd', // 24: duplicate DN in the file
        'telematikID: 3-new5',
        'displayName: X',
        '',
        'dn: uid=new6,dc=data,dc=vzd', // 28: telematikID repeated from line 3
        'telematikID: 3-NEW1',
        'displayName: X',
        '',
        'dn: uid=new7,dc=data,dc=vzd', // 32: modify
        'changetype: modify',
        'replace: mail',
        '',
        'dn: uid=new8,dc=data,dc=vzd', // 36: two displayNames
        'telematikID: 3-new8',
        'displayName: X',
        'displayName: Y',
        '',
        'dn: uid=new9,dc=data,dc=vzd', // 41: fine
        'telematikID: 3-new9',
        'displayName: Neu 9',
        '',
      ].join('\n');
      const r = await importLdif(dir, source(ldif));
      assert.equal(r.applied, false);
      assert.deepEqual(
        r.rejected.map((x) => [x.line, x.reason.split(' ').slice(0, 3).join(' ')]),
        [
          [7, 'the entry exists'],
          [11, 'telematikID 1-5 is'],
          [15, 'unknown attribute "shoeSize"'],
          [20, 'the DN must'],
          [24, 'the same DN'],
          [28, 'telematikID 3-NEW1 is'],
          [33, 'changetype "modify" is'],
          [36, 'displayName allows at'],
        ],
      );
      assert.equal(await dir.count(), before, 'nothing applied');
      assert.equal(await dir.find('3-new1'), undefined);
      // With skipInvalid the valid ones go in.
      const partial = await importLdif(dir, source(ldif), { skipInvalid: true });
      assert.equal(partial.applied, true);
      assert.equal(partial.added, 2);
      assert.equal(await dir.count(), before + 2);
      assert.equal((await dir.get('3-new9')).attrs.displayName![0], 'Neu 9');
    });

    test('replace overwrites existing entries, keeping uid, entryUUID and creation time', async (t) => {
      if (!ts) return t.skip('PostgreSQL tests skipped by POSTAMT_TEST_SKIP_PG=1');
      const old = await dir.get('3-new9');
      const ldif = 'dn: uid=new9,dc=data,dc=vzd\ntelematikID: 3-new9\ndisplayName: Neu 9 geändert\nmail: neun@x.test\nkimData: neun@x.test,1.5+,eEB|DALE-UV\n';
      assert.equal((await importLdif(dir, source(ldif))).applied, false);
      const r = await importLdif(dir, source(ldif), { replace: true });
      assert.equal(r.replaced, 1);
      const now = await dir.get('3-new9');
      assert.equal(now.id, old.id);
      assert.equal(now.entryUuid, old.entryUuid);
      assert.equal(now.attrs.displayName![0], 'Neu 9 geändert');
      assert.deepEqual(now.attrs.kimData, ['neun@x.test,1.5+,eEB|DALE-UV'], 'kimData is imported');
      const hits = (await collect(dir.search({ baseDn: BASE, scope: 'one', filter: parseFilter('(mail=neun@x.test)'), limit: 10 }))).map((h) => h.dn);
      assert.deepEqual(hits, ['uid=new9,dc=data,dc=vzd']);
    });

    test('export → import into an empty store reproduces every entry byte for byte', async (t) => {
      if (!ts) return t.skip('PostgreSQL tests skipped by POSTAMT_TEST_SKIP_PG=1');
      const filter = parseFilter('(|(uid=e1*)(uid=new*))');
      const exported = (await collect(exportLdif(dir, filter))).join('');
      assert.match(exported, /^version: 1\n\ndn: uid=e1,dc=data,dc=vzd\n/);
      assert.match(exported, /userCertificate;binary:: /);
      assert.match(exported, /^kimData: neun@x\.test,1\.5\+,eEB\|DALE-UV$/m, 'and exported');
      const other = await openTestStore(kind);
      try {
        const dir2 = new Directory(other!.store, { baseDn: BASE });
        const r = await importLdif(dir2, source(exported));
        assert.equal(r.rejectedCount, 0, JSON.stringify(r.rejected.slice(0, 3)));
        assert.equal(r.added, 11113);
        assert.equal((await collect(exportLdif(dir2))).join(''), exported);
      } finally {
        await other!.close();
      }
    });
  });
}
