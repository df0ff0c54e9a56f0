import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { CompiledQuery } from 'kysely';
import { openTestStore, STORE_KINDS, type TestStore } from '../helpers/env.js';
import { Directory, planFilter, candidateSql } from '../../src/directory/index.js';
import { parseFilter } from '../../src/wire/ldap/index.js';
import { collect } from '../helpers/stream.js';

/**
 * The indexed filters must never scan: EXPLAIN (QUERY PLAN on SQLite) of the candidate query
 * the search runs shows an index search on dir_values, never a full scan. On PostgreSQL the
 * tables get enough rows and fresh statistics for the planner to prefer the index honestly
 * (sequential scans are also disabled as a cost hint, which it ignores where no index applies).
 */
const INDEXED = [
  '(mail=praxis5@anbieter.kim.telematik)',
  '(telematikID=1-5)',
  '(domainID=42)',
  '(uid=e5)',
  '(displayName=Praxis 5*)',
  '(cn=Praxis 5*)',
  '(sn=Name5*)',
  '(givenName=Vorname*)',
  '(localityName=Stadt1*)',
  '(l=Stadt1)',
  '(&(professionOID=1.2.276.0.76.4.50)(displayName=Praxis*))',
  '(&(mail=praxis5@anbieter.kim.telematik)(description=*x*))',
  '(|(mail=a@b)(telematikID=1-7)(displayName=Praxis 9*))',
  '(|(&(l=Stadt1)(sn=Name1*))(mail=x@y))',
];
const SCANNED = ['(objectClass=*)', '(description=x)', '(displayName=*Praxis)', '(!(mail=a@b))', '(|(mail=a@b)(title=x))'];

for (const kind of STORE_KINDS) {
  describe(`directory index use on ${kind}`, () => {
    let ts: TestStore | null;
    let dir: Directory;
    before(async () => {
      ts = await openTestStore(kind);
      if (!ts) return;
      dir = new Directory(ts.store, { baseDn: 'dc=data,dc=vzd' });
      const rows = [];
      for (let k = 0; k < 2000; k++) {
        rows.push(
          dir.buildEntry({
            uid: `e${k}`,
            attributes: [
              { name: 'telematikID', value: `1-${k}` },
              { name: 'displayName', value: `Praxis ${k}` },
              { name: 'sn', value: `Name${k}` },
              { name: 'givenName', value: `Vorname${k % 13}` },
              { name: 'l', value: `Stadt${k % 50}` },
              { name: 'domainID', value: String(k % 500) },
              { name: 'professionOID', value: '1.2.276.0.76.4.50' },
              { name: 'mail', value: `praxis${k}@anbieter.kim.telematik` },
            ],
          }),
        );
      }
      const { insertEntries } = await import('../../src/directory/repo.js');
      await insertEntries(ts.store.db, ts.store.dialect, rows);
      if (kind === 'postgres') await ts.store.db.executeQuery(CompiledQuery.raw('analyze'));
    });
    after(async () => ts?.close());

    async function explain(filter: string): Promise<string> {
      const plan = planFilter(parseFilter(filter));
      if (plan.kind === 'scan') return 'PLANNER: SCAN';
      assert.notEqual(plan.term.op, 'none');
      const q = candidateSql(plan.term as Exclude<typeof plan.term, { op: 'none' }>, 101);
      let text = q.text;
      if (kind === 'postgres') {
        let n = 0;
        text = text.replace(/\?/g, () => `$${++n}`);
        await ts!.store.db.executeQuery(CompiledQuery.raw('set enable_seqscan = off'));
      }
      const prefix = kind === 'sqlite' ? 'explain query plan ' : 'explain ';
      const r = await ts!.store.db.executeQuery<Record<string, unknown>>(CompiledQuery.raw(prefix + text, [...q.params, 0]));
      return r.rows.map((row) => String(row.detail ?? row['QUERY PLAN'])).join('\n');
    }

    test('equality on mail, telematikID, domainID, uid and prefixes on names use the index', async (t) => {
      if (!ts) return t.skip('PostgreSQL tests skipped by POSTAMT_TEST_SKIP_PG=1');
      for (const f of INDEXED) {
        const plan = await explain(f);
        t.diagnostic(`${f}\n${plan}`);
        assert.doesNotMatch(plan, /PLANNER: SCAN/, f);
        if (kind === 'sqlite') {
          assert.match(plan, /SEARCH dir_values USING (COVERING )?INDEX dir_values_lookup/, f);
          assert.doesNotMatch(plan, /SCAN dir_values(?! USING)|SCAN dir_entries/, f);
        } else {
          assert.match(plan, /(Index (Only )?Scan using|Bitmap Index Scan on) dir_values_lookup/, f);
          assert.doesNotMatch(plan, /Seq Scan/, f);
        }
      }
    });

    test('other filters are planned as scans (and stay correct: see directory.test.ts)', (t) => {
      if (!ts) return t.skip('PostgreSQL tests skipped by POSTAMT_TEST_SKIP_PG=1');
      for (const f of SCANNED) assert.equal(planFilter(parseFilter(f)).kind, 'scan', f);
    });

    test('indexed searches return the same entries as a scan would', async (t) => {
      if (!ts) return t.skip('PostgreSQL tests skipped by POSTAMT_TEST_SKIP_PG=1');
      for (const f of INDEXED) {
        const viaIndex = (await collect(dir.search({ baseDn: 'dc=data,dc=vzd', scope: 'one', filter: parseFilter(f), limit: 10_000 }))).map((h) => h.dn);
        // The same filter wrapped so that the planner cannot use the index: (|(F)(!(objectClass=*))).
        const scanned: string[] = [];
        const wrapped = parseFilter(`(|${f.startsWith('(') ? f : `(${f})`}(!(objectClass=*)))`);
        assert.equal(planFilter(wrapped).kind, 'scan');
        for await (const h of dir.search({ baseDn: 'dc=data,dc=vzd', scope: 'one', filter: wrapped, limit: 10_000 })) scanned.push(h.dn);
        assert.deepEqual(viaIndex, scanned, f);
      }
    });
  });
}
