import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { sql } from 'kysely';
import { openTestStore, STORE_KINDS, type TestStore } from '../helpers/env.js';
import { testCertificates } from '../helpers/directory.js';
import { Directory, DirectoryError, DirectoryLdapBackend, directoryOptions, entryToLdif, importLdif } from '../../src/directory/index.js';
import { parseConfig } from '../../src/config/index.js';
import { parseFilter } from '../../src/wire/ldap/index.js';
import { LdapResultError, type LdapEntry, type LdapSearch } from '../../src/ldap/backend.js';
import { collect } from '../helpers/stream.js';

const BASE = 'dc=data,dc=vzd';

function req(filter: string, o: Partial<LdapSearch> = {}): LdapSearch {
  return { baseDn: BASE, scope: 'sub', filter: parseFilter(filter), attributes: ['1.1'], typesOnly: false, limit: 1000, signal: new AbortController().signal, ...o };
}

function attr(e: LdapEntry, type: string): string[] | undefined {
  return e.attributes.find((a) => a.type === type)?.values.map((v) => v.toString('utf8'));
}

/**
 * The filter table: each filter with the uids it must return (base entry as "BASE"), evaluated
 * through the planner (index or scan) and the matcher against a real store.
 */
const CASES: Array<[string, string[]]> = [
  ['(mail=anna@praxis.test)', ['anna']],
  ['(MAIL=ANNA@Praxis.Test)', ['anna']],
  ['(mail=  anna@praxis.test )', ['anna']],
  ['(telematikID=1-111)', ['anna']],
  ['(uid=BERND)', ['bernd']],
  ['(domainID=101577501)', ['kasse']],
  ['(&(domainID=101577501)(entryType=5))', ['kasse']],
  ['(entryType=05)', ['kasse']],
  ['(displayName=Dr. Anna*)', ['anna']],
  ['(displayName=dr.   anna*)', ['anna']],
  ['(cn=Dr. Anna Müller)', ['anna']],
  ['(displayName=*Müller)', ['anna']],
  ['(displayName=*MÜLLER*)', ['anna']],
  ['(displayName=D*A*M*R)', ['anna']],
  ['(displayName=*a*a*)', ['anna', 'kasse']],
  ['(displayName=*r*r*)', ['anna', 'bernd']],
  ['(displayName=Dr.*)', ['anna', 'bernd']],
  ['(sn=Mü*)', ['anna']],
  ['(givenName=anna)', ['anna']],
  ['(l=Berlin)', ['anna', 'bernd']],
  ['(localityName=berl*)', ['anna', 'bernd']],
  ['(st=Bayern)', ['kasse']],
  ['(stateOrProvinceName=bayern)', ['kasse']],
  ['(street=Hauptstr. 1)', ['anna']],
  ['(streetAddress=hauptstr. 1)', ['anna']],
  ['(o=AOK*)', ['kasse']],
  ['(organization=aok bayern)', ['kasse']],
  ['(description=a\\2astar)', ['star']],
  ['(description=a\\2a*)', ['star']],
  ['(description=\\28paren\\29)', ['star']],
  ['(description=*\\5c*)', ['star']],
  ['(title=*)', ['anna']],
  ['(!(title=*))', ['BASE', 'bernd', 'kasse', 'star']],
  ['(objectClass=*)', ['BASE', 'anna', 'bernd', 'kasse', 'star']],
  ['(objectClass=vzdEntry)', ['anna', 'bernd', 'kasse', 'star']],
  ['(objectClass=domain)', ['BASE']],
  ['(objectClass=TOP)', ['BASE', 'anna', 'bernd', 'kasse', 'star']],
  ['(dc=data)', ['BASE']],
  ['(userCertificate=*)', ['anna', 'bernd']],
  ['(postalCode>=80000)', ['kasse']],
  ['(postalCode<=10999)', ['anna', 'bernd']],
  ['(entryType>=4)', ['kasse']],
  ['(entryType<=1)', ['anna', 'bernd']],
  ['(displayName>=E)', ['star']],
  ['(displayName<=B)', ['kasse']],
  ['(displayName~=dranna müller)', ['anna']],
  ['(displayName~=Dr Anna Muller)', ['anna']],
  ['(|(mail=anna@praxis.test)(telematikID=1-222))', ['anna', 'bernd']],
  ['(|(mail=anna@praxis.test)(description=*x*))', ['anna']],
  ['(&(professionOID=1.2.276.0.76.4.50)(displayName=Dr*))', ['anna', 'bernd']],
  ['(&(professionOID=1.2.276.0.76.4.50)(|(displayName=*bernd*)(mail=*anna*)))', ['anna', 'bernd']],
  ['(&(mail=anna@praxis.test)(!(l=Berlin)))', []],
  ['(&(l=Berlin)(|(sn=Mü*)(sn=Nobody)))', ['anna']],
  ['(unknownAttr=x)', []],
  ['(!(unknownAttr=x))', []],
  ['(|(unknownAttr=x)(uid=star))', ['star']],
  ['(&)', ['BASE', 'anna', 'bernd', 'kasse', 'star']],
  ['(|)', []],
  ['(mail=nobody@x)', []],
  ['(entryType=notanumber)', []],
  ['(displayName:caseIgnoreMatch:=dr. bernd meier)', ['bernd']],
  ['(displayName:2.5.13.5:=Dr. Bernd Meier)', ['bernd']],
  ['(displayName:2.5.13.5:=dr. bernd meier)', []],
  ['(uid:dn:=star)', ['star']],
  ['(displayName:1.2.3.4:=x)', []],
  ['(createTimestamp>=19700101000000Z)', ['anna', 'bernd', 'kasse', 'star']],
  ['(entryDN=uid=anna,dc=data,dc=vzd)', ['anna']],
  ['(komLeData=1.5,anna@praxis.test)', ['anna']],
  ['(kimData=ANNA@praxis.test,1.5+,eEB|DALE-UV)', ['anna']],
  ['(description=Ünïcödé ✓)', ['star']],
  ['(description=ünïcödé*)', ['star']],
];

for (const kind of STORE_KINDS) {
  describe(`directory model on ${kind}`, () => {
    let ts: TestStore | null;
    let dir: Directory;
    let backend: DirectoryLdapBackend;
    let certs: Buffer[];
    before(async () => {
      ts = await openTestStore(kind);
      if (!ts) return;
      certs = await testCertificates(3);
      dir = new Directory(ts.store, { baseDn: BASE });
      backend = new DirectoryLdapBackend(dir, { authenticate: async (a, p) => (a === 'svc@praxis.test' && p === 'right-password' ? { address: a } : null) });
      await dir.add({
        uid: 'anna',
        attributes: [
          ['telematikID', '1-111'],
          ['displayName', 'Dr. Anna Müller'],
          ['cn', 'Dr. Anna Müller'],
          ['givenName', 'Anna'],
          ['sn', 'Müller'],
          ['title', 'Dr. med.'],
          ['mail', 'Anna@Praxis.test'],
          ['komLeData', '1.5,anna@praxis.test'],
          ['kimData', 'anna@praxis.test,1.5+,eEB|DALE-UV'],
          ['streetAddress', 'Hauptstr. 1'],
          ['postalCode', '10115'],
          ['l', 'Berlin'],
          ['professionOID', '1.2.276.0.76.4.50'],
          ['entryType', '1'],
          ['userCertificate;binary', certs[0]!],
          ['userCertificate', certs[1]!],
        ].map(([name, value]) => ({ name: name as string, value: value as string | Buffer })),
      });
      await dir.add({
        uid: 'bernd',
        attributes: [
          { name: 'telematikID', value: '1-222' },
          { name: 'displayName', value: 'Dr. Bernd Meier' },
          { name: 'localityName', value: 'Berlin' },
          { name: 'postalCode', value: '10999' },
          { name: 'professionOID', value: '1.2.276.0.76.4.50' },
          { name: 'entryType', value: '1' },
          { name: 'userCertificate;binary', value: certs[2]! },
        ],
      });
      await dir.add({
        uid: 'kasse',
        attributes: [
          { name: 'telematikID', value: '8-01-0000000232' },
          { name: 'displayName', value: 'AOK Bayern' },
          { name: 'o', value: 'AOK Bayern' },
          { name: 'domainID', value: '101577501' },
          { name: 'entryType', value: '5' },
          { name: 'st', value: 'Bayern' },
          { name: 'postalCode', value: '80331' },
        ],
      });
      await dir.add({
        uid: 'star',
        attributes: [
          { name: 'telematikID', value: '2-333' },
          { name: 'displayName', value: 'Zeichen' },
          { name: 'description', value: 'a*star' },
          { name: 'description', value: '(paren)' },
          { name: 'description', value: 'back\\slash' },
          { name: 'description', value: 'Ünïcödé ✓' },
        ],
      });
    });
    after(async () => ts?.close());

    const skip = (t: { skip(msg: string): void }): boolean => {
      if (!ts) t.skip('PostgreSQL tests skipped by POSTAMT_TEST_SKIP_PG=1');
      return !ts;
    };

    test('filter table: every case returns exactly the expected entries, in id order', async (t) => {
      if (skip(t)) return;
      const order = ['BASE', 'anna', 'bernd', 'kasse', 'star'];
      for (const [filter, want] of CASES) {
        const got = (await collect(backend.search(req(filter)))).map((e) => (e.dn === BASE ? 'BASE' : /^uid=([^,]+)/.exec(e.dn)![1]!));
        assert.deepEqual(got, [...want].sort((a, b) => order.indexOf(a) - order.indexOf(b)), filter);
      }
    });

    test('warm index: the filter table gives the same answers from the in-memory index', async (t) => {
      if (skip(t)) return;
      const warm = new Directory(ts!.store, { baseDn: BASE, cacheCheckMs: 60_000 });
      warm.keepWarm();
      try {
        await warm.warmed();
        assert.equal(warm.isWarm, true);
        const view = new DirectoryLdapBackend(warm, { authenticate: async () => null });
        const order = ['BASE', 'anna', 'bernd', 'kasse', 'star'];
        for (const [filter, want] of CASES) {
          const got = (await collect(view.search(req(filter)))).map((e) => (e.dn === BASE ? 'BASE' : /^uid=([^,]+)/.exec(e.dn)![1]!));
          assert.deepEqual(got, [...want].sort((a, b) => order.indexOf(a) - order.indexOf(b)), filter);
        }
        assert.equal((await warm.get('1-111')).uid, 'anna');
        assert.equal((await warm.get('uid=BERND,dc=data,dc=vzd')).uid, 'bernd');
        // The encoded answer is built once per entry and selection and reused.
        const first = await collect(view.search(req('(mail=anna@praxis.test)', { attributes: ['mail', 'sn'] })));
        const again = await collect(view.search(req('(mail=anna@praxis.test)', { attributes: ['mail', 'sn'] })));
        assert.ok(first[0]!.encoded && first[0]!.encoded === again[0]!.encoded);
        assert.deepEqual(attr(again[0]!, 'sn'), ['Müller']);
        const typesOnly = await collect(view.search(req('(mail=anna@praxis.test)', { attributes: ['mail', 'sn'], typesOnly: true })));
        assert.deepEqual(typesOnly[0]!.attributes.map((a) => a.values.length), [0, 0]);
      } finally {
        await warm.stopWarm();
      }
    });

    test('searchNow (answers from memory): the same entries and bytes as search, or none at all; stale or uncached means none', async (t) => {
      if (skip(t)) return;
      const warm = new Directory(ts!.store, { baseDn: BASE, cacheCheckMs: 60_000 });
      const other = new Directory(ts!.store, { baseDn: BASE, cacheCheckMs: 60_000 });
      warm.keepWarm();
      try {
        await warm.warmed();
        const view = new DirectoryLdapBackend(warm, { authenticate: async () => null });
        const bytes = (es: LdapEntry[]): string[] => es.map((e) => `${e.dn} ${e.encoded ? Buffer.from(e.encoded as Uint8Array).toString('hex') : JSON.stringify(e.attributes)}`);
        let answered = 0;
        for (const attributes of [['1.1'], [], ['mail', 'cn', 'userCertificate;binary']]) {
          for (const [filter] of CASES) {
            for (const limit of [1000, 2, 1]) {
              for (const scope of ['sub', 'one', 'base'] as const) {
                const r = req(filter, { attributes, limit, scope });
                const slow = await collect(view.search(r));
                const now = view.searchNow(r);
                if (now === undefined) continue;
                answered++;
                assert.deepEqual(bytes(now), bytes(slow), `${filter} ${scope} limit ${limit} ${attributes.join(',')}`);
                assert.deepEqual(now.map((e) => e.attributes), slow.map((e) => e.attributes));
              }
            }
          }
        }
        // Equality on the hot attributes and prefixes of displayName are answered from memory.
        for (const f of ['(mail=anna@praxis.test)', '(telematikID=1-222)', '(uid=KASSE)', '(displayName=a*)', '(cn=Dr*)', '(domainID=101577501)']) {
          assert.ok(view.searchNow(req(f)) !== undefined, f);
        }
        assert.ok(answered > 50, `only ${answered} answered from memory`);
        // Not the container as base, paging positions and scans go the other way.
        assert.equal(view.searchNow(req('(mail=anna@praxis.test)', { baseDn: 'uid=anna,dc=data,dc=vzd' })), undefined);
        assert.equal(view.searchNow(req('(mail=anna@praxis.test)', { after: '0' })), undefined);
        assert.equal(view.searchNow(req('(sn=Müller)')), undefined);
        // A change in this process: nothing from memory until the index is rebuilt, then the new state.
        await other.add({ uid: 'now', attributes: [{ name: 'telematikID', value: '9-40' }, { name: 'displayName', value: 'Anna Jetzt' }, { name: 'mail', value: 'now@praxis.test' }] });
        assert.equal(view.searchNow(req('(mail=now@praxis.test)')), undefined);
        assert.equal((await collect(view.search(req('(mail=now@praxis.test)')))).length, 1);
        await warm.warmed();
        assert.equal(view.searchNow(req('(mail=now@praxis.test)'))?.length, 1);
        assert.deepEqual(
          view.searchNow(req('(displayName=anna*)'))?.map((e) => e.dn),
          (await collect(view.search(req('(displayName=anna*)')))).map((e) => e.dn),
        );
        await other.remove('9-40');
        assert.equal(view.searchNow(req('(mail=now@praxis.test)')), undefined);
        await warm.warmed();
        assert.deepEqual(view.searchNow(req('(mail=now@praxis.test)')), []);
      } finally {
        await warm.stopWarm();
      }
    });

    test('raw byte assertions: escapes arrive as bytes, a non-UTF-8 value matches nothing', async (t) => {
      if (skip(t)) return;
      const got = await collect(backend.search(req('(uid=*)', { filter: { type: 'equality', attribute: 'mail', value: Buffer.from([0xff, 0xfe]) } })));
      assert.equal(got.length, 0);
      const sub = await collect(backend.search(req('(uid=*)', { filter: { type: 'substrings', attribute: 'description', any: [Buffer.from('*')] } })));
      assert.deepEqual(sub.map((e) => e.dn), ['uid=star,dc=data,dc=vzd']);
      const many = await collect(backend.search(req('(uid=*)', { filter: { type: 'substrings', attribute: 'displayName', initial: Buffer.from('d'), any: [Buffer.from('a'), Buffer.from(''), Buffer.from('n')], final: Buffer.from('er') } })));
      assert.deepEqual(many.map((e) => e.dn), ['uid=anna,dc=data,dc=vzd']);
    });

    test('binary: userCertificate equality is octet equality, DER comes back as requested', async (t) => {
      if (skip(t)) return;
      const eq = await collect(backend.search(req('(uid=*)', { filter: { type: 'equality', attribute: 'userCertificate;binary', value: certs[1]! }, attributes: ['userCertificate;binary'] })));
      assert.deepEqual(eq.map((e) => e.dn), ['uid=anna,dc=data,dc=vzd']);
      const a = eq[0]!.attributes;
      assert.equal(a.length, 1);
      assert.equal(a[0]!.type, 'userCertificate;binary');
      assert.ok(a[0]!.values[0]!.equals(certs[0]!) && a[0]!.values[1]!.equals(certs[1]!));
      const sub = await collect(backend.search(req('(userCertificate=*abc*)')));
      assert.equal(sub.length, 0);
    });

    test('attribute selection: *, 1.1, +, aliases named as requested, typesOnly', async (t) => {
      if (skip(t)) return;
      const [all] = await collect(backend.search(req('(uid=anna)', { attributes: [] })));
      const types = all!.attributes.map((a) => a.type);
      for (const n of ['objectClass', 'uid', 'telematikID', 'displayName', 'cn', 'street', 'localityName', 'mail', 'komLeData', 'kimData', 'userCertificate;binary']) assert.ok(types.includes(n), n);
      assert.ok(!types.includes('createTimestamp'));
      assert.deepEqual(attr(all!, 'cn'), ['Dr. Anna Müller']);
      assert.deepEqual(attr(all!, 'street'), ['Hauptstr. 1']);
      const [star] = await collect(backend.search(req('(uid=anna)', { attributes: ['*'] })));
      assert.deepEqual(star!.attributes.map((a) => a.type), types);
      const [none] = await collect(backend.search(req('(uid=anna)', { attributes: ['1.1'] })));
      assert.deepEqual(none!.attributes, []);
      const [ops] = await collect(backend.search(req('(uid=anna)', { attributes: ['+'] })));
      assert.deepEqual(ops!.attributes.map((a) => a.type), ['createTimestamp', 'modifyTimestamp', 'entryDN', 'entryUUID', 'hasSubordinates']);
      assert.match(attr(ops!, 'createTimestamp')![0]!, /^\d{14}Z$/);
      assert.deepEqual(attr(ops!, 'entryDN'), ['uid=anna,dc=data,dc=vzd']);
      const [named] = await collect(backend.search(req('(uid=anna)', { attributes: ['L', 'streetAddress', 'o', 'ST', 'MAIL', 'cn', 'nonsense', 'entryUUID', '1.1'] })));
      assert.deepEqual(named!.attributes.map((a) => a.type), ['L', 'streetAddress', 'MAIL', 'cn', 'entryUUID']);
      const [both] = await collect(backend.search(req('(uid=anna)', { attributes: ['*', '+', 'street', 'l'] })));
      assert.equal(both!.attributes.filter((a) => a.type.toLowerCase() === 'street' || a.type === 'streetAddress').length, 1);
      assert.ok(both!.attributes.some((a) => a.type === 'entryUUID'));
      const [typesOnly] = await collect(backend.search(req('(uid=anna)', { attributes: ['mail', 'userCertificate;binary'], typesOnly: true })));
      assert.deepEqual(typesOnly!.attributes, [{ type: 'mail', values: [] }, { type: 'userCertificate;binary', values: [] }]);
      const [base] = await collect(backend.search(req('(objectClass=*)', { scope: 'base', attributes: [] })));
      assert.equal(base!.dn, BASE);
      assert.deepEqual(attr(base!, 'dc'), ['data']);
      assert.deepEqual(attr(base!, 'objectClass'), ['top', 'domain', 'dcObject']);
    });

    test('scopes: base, one, sub; entry as base; missing and bad bases', async (t) => {
      if (skip(t)) return;
      const dns = async (o: Partial<LdapSearch>, f = '(objectClass=*)'): Promise<string[]> => (await collect(backend.search(req(f, o)))).map((e) => e.dn);
      assert.deepEqual(await dns({ scope: 'base' }), [BASE]);
      assert.equal((await dns({ scope: 'one' })).length, 4);
      assert.equal((await dns({ scope: 'sub' })).length, 5);
      assert.deepEqual(await dns({ scope: 'base', baseDn: 'UID=Anna, DC=Data, DC=VZD' }), ['uid=anna,dc=data,dc=vzd']);
      assert.deepEqual(await dns({ scope: 'sub', baseDn: 'uid=anna,dc=data,dc=vzd' }), ['uid=anna,dc=data,dc=vzd']);
      assert.deepEqual(await dns({ scope: 'one', baseDn: 'uid=anna,dc=data,dc=vzd' }), []);
      assert.deepEqual(await dns({ scope: 'base', baseDn: 'uid=anna,dc=data,dc=vzd' }, '(mail=other@x)'), []);
      const code = async (o: Partial<LdapSearch>): Promise<[string, string]> => {
        try {
          await dns(o);
          return ['none', ''];
        } catch (err) {
          assert.ok(err instanceof LdapResultError);
          return [err.code, err.matchedDn];
        }
      };
      assert.deepEqual(await code({ baseDn: 'uid=nobody,dc=data,dc=vzd' }), ['noSuchObject', BASE]);
      assert.deepEqual(await code({ baseDn: 'cn=x,uid=anna,dc=data,dc=vzd' }), ['noSuchObject', 'uid=anna,dc=data,dc=vzd']);
      assert.deepEqual(await code({ baseDn: 'mail=a@b,dc=data,dc=vzd' }), ['noSuchObject', BASE]);
      assert.deepEqual(await code({ baseDn: 'dc=other' }), ['noSuchObject', '']);
      assert.deepEqual(await code({ baseDn: 'dc=vzd' }), ['noSuchObject', '']);
      assert.deepEqual(await code({ baseDn: 'uid=a,,dc=x' }), ['invalidDNSyntax', '']);
      assert.deepEqual(await code({ after: 'garbage' }), ['unwillingToPerform', '']);
      // The same refusals in the directory's own terms (the admin API and the CLI answer by `code`).
      const refusal = async (o: { baseDn?: string; after?: string }): Promise<[string, string, string]> => {
        try {
          for await (const _ of dir.search({ baseDn: BASE, scope: 'sub', filter: parseFilter('(objectClass=*)'), limit: 10, ...o }));
          return ['none', '', ''];
        } catch (err) {
          assert.ok(err instanceof DirectoryError, String(err));
          return [err.kind, err.code, err.closestDn];
        }
      };
      assert.deepEqual(await refusal({ baseDn: 'uid=nobody,dc=data,dc=vzd' }), ['noSuchEntry', 'not-found', BASE]);
      assert.deepEqual(await refusal({ baseDn: 'cn=x,uid=anna,dc=data,dc=vzd' }), ['noSuchEntry', 'not-found', 'uid=anna,dc=data,dc=vzd']);
      assert.deepEqual(await refusal({ baseDn: 'dc=other' }), ['noSuchEntry', 'not-found', '']);
      assert.deepEqual(await refusal({ baseDn: 'uid=a,,dc=x' }), ['invalidDn', 'usage', '']);
      assert.deepEqual(await refusal({ after: 'garbage' }), ['invalidPosition', 'usage', '']);
      await assert.rejects(dir.get('uid=a,,dc=x'), (err: unknown) => err instanceof DirectoryError && err.kind === 'invalidDn' && /is not a DN/.test(err.message));
    });

    test('paging: limit and resumeKey walk every entry once, in order, index or scan', async (t) => {
      if (skip(t)) return;
      for (const f of ['(objectClass=*)', '(displayName=*)', '(|(l=Berlin)(st=Bayern)(uid=star))', '(professionOID=1.2.276.0.76.4.50)']) {
        const full = (await collect(backend.search(req(f)))).map((e) => e.dn);
        const paged: string[] = [];
        let after: string | undefined;
        for (let guard = 0; guard < 20; guard++) {
          const page = await collect(backend.search(req(f, { limit: 2, ...(after ? { after } : {}) })));
          paged.push(...page.map((e) => e.dn));
          if (page.length < 2) break;
          after = page[page.length - 1]!.resumeKey;
        }
        assert.deepEqual(paged, full, f);
      }
    });

    test('abort: a search stops when its signal is aborted', async (t) => {
      if (skip(t)) return;
      const ac = new AbortController();
      const got: string[] = [];
      for await (const e of backend.search(req('(objectClass=*)', { signal: ac.signal }))) {
        got.push(e.dn);
        ac.abort();
      }
      assert.equal(got.length, 1);
    });

    test('bind: service account as mail=…,base or bare address; anything else is refused', async (t) => {
      if (skip(t)) return;
      assert.equal(await backend.bind('mail=svc@praxis.test,dc=data,dc=vzd', 'right-password'), 'mail=svc@praxis.test,dc=data,dc=vzd');
      assert.equal(await backend.bind('svc@praxis.test', 'right-password'), 'mail=svc@praxis.test,dc=data,dc=vzd');
      assert.equal(await backend.bind('svc@praxis.test', 'wrong'), null);
      assert.equal(await backend.bind('svc@praxis.test', ''), null);
      assert.equal(await backend.bind('uid=anna,dc=data,dc=vzd', 'right-password'), null);
      assert.equal(await backend.bind('mail=svc@praxis.test,dc=other', 'right-password'), null);
      assert.equal(await backend.bind('mail=a,,', 'right-password'), null);
      assert.deepEqual(backend.namingContexts(), [BASE]);
    });

    test('validation: uniqueness, cardinality, unknown attributes, bad certificates, cn ≠ displayName', async (t) => {
      if (skip(t)) return;
      const add = (uid: string, attrs: Array<[string, string | Buffer]>): Promise<unknown> => dir.add({ uid, attributes: attrs.map(([name, value]) => ({ name, value })) });
      await assert.rejects(add('x1', [['telematikID', '1-111'], ['displayName', 'X']]), /telematikID 1-111 is already used/);
      await assert.rejects(add('ANNA', [['telematikID', '9-1'], ['displayName', 'X']]), /exists already/);
      await assert.rejects(add('x2', [['displayName', 'X']]), /telematikID is required/);
      await assert.rejects(add('x3', [['telematikID', '9-3']]), /displayName is required/);
      await assert.rejects(add('x4', [['telematikID', '9-4'], ['displayName', 'X'], ['displayName', 'Y']]), /at most 1 value/);
      await assert.rejects(add('x5', [['telematikID', '9-5'], ['displayName', 'X'], ['favouriteColour', 'blue']]), /unknown attribute/);
      await assert.rejects(add('x6', [['telematikID', '9-6'], ['displayName', 'X'], ['userCertificate', Buffer.from('not a cert')]]), /not a DER certificate/);
      await assert.rejects(add('x7', [['telematikID', '9-7'], ['displayName', 'X'], ['cn', 'Y']]), /cn must equal displayName/);
      await assert.rejects(add('x8', [['telematikID', '9-8'], ['displayName', 'X'], ['entryType', 'abc']]), /not a valid integer/);
      await assert.rejects(add('x9', [['telematikID', '9-9'], ['displayName', 'X'], ['mail', Buffer.from([0xc3])]]), /not valid UTF-8/);
      const onlyCn = await dir.add({ uid: 'cnonly', attributes: [{ name: 'telematikID', value: '9-10' }, { name: 'cn', value: 'Nur CN' }] });
      assert.deepEqual(onlyCn.attrs.displayName, ['Nur CN']);
      await dir.remove('9-10');
    });

    test('cache: changes through another Directory on the same store are seen at once', async (t) => {
      if (skip(t)) return;
      const other = new Directory(ts!.store, { baseDn: BASE, cacheCheckMs: 60_000 });
      const reader = new Directory(ts!.store, { baseDn: BASE, cacheCheckMs: 60_000 });
      const view = new DirectoryLdapBackend(reader, { authenticate: async () => null });
      assert.equal((await collect(view.search(req('(mail=new@praxis.test)')))).length, 0);
      await other.add({ uid: 'new', attributes: [{ name: 'telematikID', value: '9-20' }, { name: 'displayName', value: 'Neu' }, { name: 'mail', value: 'new@praxis.test' }] });
      assert.equal((await collect(view.search(req('(mail=new@praxis.test)')))).length, 1);
      await other.remove('9-20');
      assert.equal((await collect(view.search(req('(mail=new@praxis.test)')))).length, 0);
    });

    test('cache: a change by another process is seen after cacheCheckMs (version row)', async (t) => {
      if (skip(t)) return;
      const reader = new Directory(ts!.store, { baseDn: BASE, cacheCheckMs: 0 });
      const view = new DirectoryLdapBackend(reader, { authenticate: async () => null });
      const [before] = await collect(view.search(req('(uid=kasse)', { attributes: ['description'] })));
      assert.equal(attr(before!, 'description'), undefined);
      // Another node: writes the row and bumps the version behind this process's back.
      const attrs = JSON.stringify({ uid: ['kasse'], telematikID: ['8-01-0000000232'], displayName: ['AOK Bayern'], description: ['remote'] });
      await sql`update dir_entries set attrs = ${attrs} where uid_norm = 'kasse'`.execute(ts!.store.db);
      await sql`update dir_state set version = version + 1 where id = 1`.execute(ts!.store.db);
      const [afterChange] = await collect(view.search(req('(uid=kasse)', { attributes: ['description'] })));
      assert.deepEqual(attr(afterChange!, 'description'), ['remote']);
    });

    test('warm index: a write in this process is seen at once, and the index is rebuilt', async (t) => {
      if (skip(t)) return;
      const warm = new Directory(ts!.store, { baseDn: BASE, cacheCheckMs: 60_000 });
      const other = new Directory(ts!.store, { baseDn: BASE, cacheCheckMs: 60_000 });
      warm.keepWarm();
      try {
        await warm.warmed();
        const view = new DirectoryLdapBackend(warm, { authenticate: async () => null });
        assert.equal((await collect(view.search(req('(mail=warm@praxis.test)')))).length, 0);
        await other.add({ uid: 'warm', attributes: [{ name: 'telematikID', value: '9-30' }, { name: 'displayName', value: 'Warm' }, { name: 'mail', value: 'warm@praxis.test' }] });
        assert.equal(warm.isWarm, false, 'the index of the old version is dropped at once');
        assert.equal((await collect(view.search(req('(mail=warm@praxis.test)')))).length, 1);
        await warm.warmed();
        assert.equal(warm.isWarm, true);
        assert.equal((await collect(view.search(req('(mail=warm@praxis.test)')))).length, 1);
        assert.equal((await collect(view.search(req('(telematikID=9-30)')))).length, 1);
        await other.remove('9-30');
        assert.equal((await collect(view.search(req('(mail=warm@praxis.test)')))).length, 0);
        await warm.warmed();
        assert.equal((await collect(view.search(req('(mail=warm@praxis.test)')))).length, 0);
      } finally {
        await warm.stopWarm();
      }
    });

    test('warm index: another node\'s change is seen after cacheCheckMs (version row)', async (t) => {
      if (skip(t)) return;
      const warm = new Directory(ts!.store, { baseDn: BASE, cacheCheckMs: 0 });
      warm.keepWarm();
      try {
        await warm.warmed();
        const view = new DirectoryLdapBackend(warm, { authenticate: async () => null });
        assert.equal((await collect(view.search(req('(mail=moved@praxis.test)')))).length, 0);
        const [kasse] = await collect(view.search(req('(uid=kasse)', { attributes: ['mail'] })));
        assert.ok(kasse);
        // Another node gives kasse a new address: row, index row and version, behind our back.
        const row = (await sql<{ id: number; attrs: string }>`select id, attrs from dir_entries where uid_norm = 'kasse'`.execute(ts!.store.db)).rows[0]!;
        const attrs = { ...(JSON.parse(row.attrs) as Record<string, string[]>), mail: ['moved@praxis.test'] };
        await sql`update dir_entries set attrs = ${JSON.stringify(attrs)} where id = ${row.id}`.execute(ts!.store.db);
        await sql`delete from dir_values where entry_id = ${row.id} and attr = 'mail'`.execute(ts!.store.db);
        await sql`insert into dir_values (entry_id, attr, norm) values (${row.id}, 'mail', 'moved@praxis.test')`.execute(ts!.store.db);
        await sql`update dir_state set version = version + 1 where id = 1`.execute(ts!.store.db);
        const [moved] = await collect(view.search(req('(mail=moved@praxis.test)', { attributes: ['mail'] })));
        assert.deepEqual(attr(moved!, 'mail'), ['moved@praxis.test']);
        await warm.warmed();
        assert.equal(warm.isWarm, true);
        assert.equal((await collect(view.search(req('(mail=moved@praxis.test)')))).length, 1);
        const restored = JSON.stringify({ ...attrs, mail: (JSON.parse(row.attrs) as Record<string, string[]>).mail });
        await sql`update dir_entries set attrs = ${restored} where id = ${row.id}`.execute(ts!.store.db);
        await sql`delete from dir_values where entry_id = ${row.id} and attr = 'mail'`.execute(ts!.store.db);
        for (const m of (JSON.parse(row.attrs) as Record<string, string[]>).mail ?? []) {
          await sql`insert into dir_values (entry_id, attr, norm) values (${row.id}, 'mail', ${m.toLowerCase()})`.execute(ts!.store.db);
        }
        await sql`update dir_state set version = version + 1 where id = 1`.execute(ts!.store.db);
        await warm.warmed();
        assert.equal((await collect(view.search(req('(mail=moved@praxis.test)')))).length, 0);
      } finally {
        await warm.stopWarm();
      }
    });

    test('certificates: add (idempotent), list, remove by fingerprint prefix', async (t) => {
      if (skip(t)) return;
      const r1 = await dir.addCertificate('1-222', certs[0]!);
      assert.equal(r1.added, true);
      assert.equal((await dir.addCertificate('1-222', certs[0]!)).added, false);
      const e = await dir.get('1-222');
      assert.equal(e.certs.length, 2);
      const infos = dir.describeCertificates(e);
      assert.match(infos[1]!.subject, /cert0\.test/);
      assert.equal(await dir.removeCertificate('uid=bernd,dc=data,dc=vzd', r1.sha256.slice(0, 12)), 1);
      await assert.rejects(dir.removeCertificate('bernd', r1.sha256.slice(0, 12)), /no certificate/);
      await assert.rejects(dir.removeCertificate('bernd', 'xyz'), /8 hex digits/);
      await assert.rejects(dir.addCertificate('9-404', certs[0]!), /no directory entry/);
    });

    test('certificates: directory.maxCertificates (default 50) bounds them when adding one, building an entry and importing', async (t) => {
      if (skip(t)) return;
      const config = (directory: Record<string, unknown>): ReturnType<typeof parseConfig> => parseConfig({ dataDir: '/nonexistent', directory }, 'test', {});
      assert.equal(config({}).directory.maxCertificates, 50);
      assert.throws(() => config({ maxCertificates: 0 }), /maxCertificates/);
      assert.throws(() => config({ maxCertificates: 'many' }), /maxCertificates/);
      const two = new Directory(ts!.store, directoryOptions(config({ maxCertificates: 2 }).directory));
      assert.equal((await two.get('1-111')).certs.length, 2);
      await assert.rejects(two.addCertificate('1-111', certs[2]!), /an entry holds at most 2 certificates/);
      const third = await dir.addCertificate('1-111', certs[2]!); // the default allows it
      assert.equal(third.added, true);
      assert.equal(await dir.removeCertificate('1-111', third.sha256), 1);
      const input = {
        uid: 'many',
        attributes: [
          { name: 'telematikID', value: '3-444' },
          { name: 'displayName', value: 'Drei Zertifikate' },
          ...certs.map((c) => ({ name: 'userCertificate', value: c })),
        ],
      };
      assert.throws(() => two.buildEntry(input), /userCertificate allows at most 2 values \(got 3\)/);
      const ldif = entryToLdif(dir, dir.buildEntry(input));
      const r = await importLdif(two, (async function* () {
        yield ldif;
      })());
      assert.equal(r.applied, false);
      assert.equal(r.rejectedCount, 1);
      assert.match(r.rejected[0]!.reason, /userCertificate allows at most 2 values \(got 3\)/);
      assert.equal(await dir.find('3-444'), undefined);
    });
  });
}
