import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { InvalidCredentialsError, SizeLimitExceededError, UnwillingToPerformError, type Client } from 'ldapts';
import { createSelfSignedTls } from '../../src/crypto/selfsigned.js';
import { STORE_KINDS } from '../helpers/env.js';
import { run } from '../helpers/process.js';
import { BASE, BIND_ADDRESS, BIND_PASSWORD, ldapClient, practice, startLdapFixture, type LdapFixture } from '../helpers/ldap-fixture.js';

const ENTRIES = 130; // more than the size limit of 100

/** ldapsearch (OpenLDAP), unwrapped LDIF; resolves with exit code and output instead of throwing. */
async function ldapsearch(f: LdapFixture, args: string[]): Promise<{ code: number | null; out: string }> {
  const r = await run('ldapsearch', ['-o', 'ldif-wrap=no', '-o', 'nettimeout=10', ...args], { env: { ...process.env, LDAPTLS_CACERT: f.caPath, LDAPTLS_REQCERT: 'demand' } });
  return { code: r.code, out: r.code === 0 ? r.stdout : r.stdout + r.stderr };
}

const dns = (out: string): string[] => [...out.matchAll(/^dn: (.*)$/gm)].map((m) => m[1]!);
const values = (out: string, attr: string): string[] => [...out.matchAll(new RegExp(`^${attr}(::?) (.*)$`, 'gm'))].map((m) => (m[1] === '::' ? Buffer.from(m[2]!, 'base64').toString('utf8') : m[2]!));

for (const kind of STORE_KINDS) {
  describe(`LDAP server with real clients (${kind})`, () => {
    let f: LdapFixture | null = null;
    let certDer: Buffer;

    before(async () => {
      const pem = await createSelfSignedTls(['Praxis 0007 ENC']);
      certDer = Buffer.from(new X509Certificate(pem.cert).raw);
      f = await startLdapFixture(kind, async (d) => {
        for (let i = 1; i <= ENTRIES; i++) await d.add(practice(i, i === 7 ? [{ name: 'mail', value: 'zweite@anbieter.kim.telematik' }] : []));
        await d.addCertificate('1-20010007', certDer);
      });
    });
    after(async () => f?.close());

    const fx = (t: { skip(msg: string): void }): LdapFixture | null => {
      if (!f) t.skip('PostgreSQL tests skipped (POSTAMT_TEST_SKIP_PG=1)');
      return f;
    };

    test('ldapsearch: anonymous (mail=…) returns userCertificate;binary byte for byte', async (t) => {
      const f = fx(t);
      if (!f) return;
      const r = await ldapsearch(f, ['-x', '-H', f.ldapUrl, '-b', BASE, '(mail=praxis-0007@anbieter.kim.telematik)', 'userCertificate;binary', 'mail']);
      assert.equal(r.code, 0, r.out);
      assert.deepEqual(dns(r.out), [`uid=uid-0007,${BASE}`]);
      const b64 = /^userCertificate;binary:: (.*)$/m.exec(r.out)?.[1];
      assert.ok(b64, r.out);
      assert.ok(Buffer.from(b64, 'base64').equals(certDer));
      assert.deepEqual(values(r.out, 'mail').sort(), ['praxis-0007@anbieter.kim.telematik', 'zweite@anbieter.kim.telematik']);
    });

    test('ldapsearch: simple bind, good and bad password', async (t) => {
      const f = fx(t);
      if (!f) return;
      const dn = `mail=${BIND_ADDRESS},${BASE}`;
      const good = await ldapsearch(f, ['-x', '-H', f.ldapUrl, '-D', dn, '-w', BIND_PASSWORD, '-b', BASE, '-s', 'base', '(objectClass=*)', '1.1']);
      assert.equal(good.code, 0, good.out);
      const bad = await ldapsearch(f, ['-x', '-H', f.ldapUrl, '-D', dn, '-w', 'wrong', '-b', BASE, '(uid=x)']);
      assert.equal(bad.code, 49, bad.out);
    });

    test('ldapsearch: scopes base, one and sub', async (t) => {
      const f = fx(t);
      if (!f) return;
      const base = await ldapsearch(f, ['-x', '-H', f.ldapUrl, '-b', `uid=uid-0003,${BASE}`, '-s', 'base', '(objectClass=*)', 'telematikID']);
      assert.equal(base.code, 0, base.out);
      assert.deepEqual(values(base.out, 'telematikID'), ['1-20010003']);
      const one = await ldapsearch(f, ['-x', '-H', f.ldapUrl, '-b', BASE, '-s', 'one', '(telematikID=1-20010004)', '1.1']);
      assert.deepEqual(dns(one.out), [`uid=uid-0004,${BASE}`]);
      const oneBelowEntry = await ldapsearch(f, ['-x', '-H', f.ldapUrl, '-b', `uid=uid-0004,${BASE}`, '-s', 'one', '(objectClass=*)', '1.1']);
      assert.equal(oneBelowEntry.code, 0, oneBelowEntry.out);
      assert.deepEqual(dns(oneBelowEntry.out), []);
      const missing = await ldapsearch(f, ['-x', '-H', f.ldapUrl, '-b', `uid=nope,${BASE}`, '-s', 'base', '(objectClass=*)']);
      assert.equal(missing.code, 32, missing.out);
    });

    test('ldapsearch: the size limit returns 100 entries, then sizeLimitExceeded; a smaller client limit wins', async (t) => {
      const f = fx(t);
      if (!f) return;
      const r = await ldapsearch(f, ['-x', '-H', f.ldapUrl, '-b', BASE, '(displayName=Praxis*)', '1.1']);
      assert.equal(r.code, 4, r.out.slice(-300));
      assert.equal(dns(r.out).length, 100);
      const small = await ldapsearch(f, ['-x', '-H', f.ldapUrl, '-b', BASE, '-z', '5', '(displayName=Praxis*)', '1.1']);
      assert.equal(small.code, 4);
      assert.equal(dns(small.out).length, 5);
      const asked = await ldapsearch(f, ['-x', '-H', f.ldapUrl, '-b', BASE, '-z', '1000', '(displayName=Praxis*)', '1.1']);
      assert.equal(dns(asked.out).length, 100, 'a client cannot raise the server limit');
    });

    test('ldapsearch: paged results (-E pr=10/noprompt) deliver every entry once, within the size limit', async (t) => {
      const f = fx(t);
      if (!f) return;
      const berlin = await ldapsearch(f, ['-x', '-H', f.ldapUrl, '-b', BASE, '-E', 'pr=10/noprompt', '(l=Berlin)', '1.1']);
      assert.equal(berlin.code, 0, berlin.out.slice(-400));
      const got = dns(berlin.out);
      assert.equal(got.length, ENTRIES / 2);
      assert.equal(new Set(got).size, got.length);
      assert.equal((berlin.out.match(/^pagedresults: cookie=/gm) ?? []).length, Math.ceil(ENTRIES / 2 / 10));
      const all = await ldapsearch(f, ['-x', '-H', f.ldapUrl, '-b', BASE, '-E', 'pr=30/noprompt', '(displayName=Praxis*)', '1.1']);
      assert.equal(all.code, 4, all.out.slice(-400));
      assert.equal(new Set(dns(all.out)).size, 100);
    });

    test('ldapsearch: StartTLS (-ZZ) and LDAPS', async (t) => {
      const f = fx(t);
      if (!f) return;
      for (const args of [['-ZZ', '-H', f.ldapUrl], ['-H', f.ldapsUrl]]) {
        const r = await ldapsearch(f, ['-x', ...args, '-D', `mail=${BIND_ADDRESS},${BASE}`, '-w', BIND_PASSWORD, '-b', BASE, '(telematikID=1-20010009)', 'cn']);
        assert.equal(r.code, 0, r.out);
        assert.deepEqual(values(r.out, 'cn'), ['Praxis Dr. Muster 0009']);
      }
    });

    test('ldapsearch: aliases street, l, st and o come back under the requested names', async (t) => {
      const f = fx(t);
      if (!f) return;
      const r = await ldapsearch(f, ['-x', '-H', f.ldapUrl, '-b', BASE, '(telematikID=1-20010002)', 'street', 'l', 'st', 'o']);
      assert.equal(r.code, 0, r.out);
      assert.deepEqual(values(r.out, 'street'), ['Hauptstraße 2']);
      assert.deepEqual(values(r.out, 'l'), ['München']);
      assert.deepEqual(values(r.out, 'st'), ['Bayern']);
      assert.deepEqual(values(r.out, 'o'), ['Org 0002']);
      const escaped = await ldapsearch(f, ['-x', '-H', f.ldapUrl, '-b', BASE, '(&(telematikID=1-20010002)(l=M\\c3\\bcnchen))', '1.1']);
      assert.deepEqual(dns(escaped.out), [`uid=uid-0002,${BASE}`], 'RFC 4515 escapes of UTF-8 bytes');
      const byAlias = await ldapsearch(f, ['-x', '-H', f.ldapUrl, '-b', BASE, '(&(l=München)(st=Bayern)(street=Hauptstraße 2))', '1.1']);
      assert.deepEqual(dns(byAlias.out), [`uid=uid-0002,${BASE}`]);
    });

    test('ldapsearch: the root DSE', async (t) => {
      const f = fx(t);
      if (!f) return;
      const plus = await ldapsearch(f, ['-x', '-H', f.ldapUrl, '-b', '', '-s', 'base', '(objectClass=*)', '+']);
      assert.equal(plus.code, 0, plus.out);
      assert.deepEqual(values(plus.out, 'namingContexts'), [BASE]);
      assert.deepEqual(values(plus.out, 'supportedLDAPVersion'), ['3']);
      assert.ok(values(plus.out, 'supportedControl').includes('1.2.840.113556.1.4.319'));
      assert.ok(values(plus.out, 'supportedExtension').includes('1.3.6.1.4.1.1466.20037'));
      assert.deepEqual(values(plus.out, 'vendorName'), ['Postamt']);
      const star = await ldapsearch(f, ['-x', '-H', f.ldapUrl, '-b', '', '-s', 'base', '(objectClass=*)']);
      assert.deepEqual(values(star.out, 'namingContexts'), [], 'operational attributes only on request');
      const named = await ldapsearch(f, ['-x', '-H', f.ldapsUrl, '-b', '', '-s', 'base', '(objectClass=*)', 'namingContexts', 'supportedExtension']);
      assert.deepEqual(values(named.out, 'namingContexts'), [BASE]);
      assert.ok(!values(named.out, 'supportedExtension').includes('1.3.6.1.4.1.1466.20037'), 'no StartTLS offered on LDAPS');
    });

    describe('ldapts', () => {
      let c: Client;
      before(async () => {
        if (f) c = await ldapClient(f.ldapUrl);
      });
      after(async () => {
        if (f) await c.unbind();
      });

      const find = async (filter: string, attributes = ['telematikID']): Promise<string[]> => {
        const { searchEntries } = await c.search(BASE, { filter, attributes, sizeLimit: 0 });
        return searchEntries.map((e) => String(e.telematikID)).sort();
      };

      test('every filter type', async (t) => {
        if (!fx(t)) return;
        const id = (i: number): string => `1-2001${String(i).padStart(4, '0')}`;
        assert.deepEqual(await find('(mail=praxis-0005@anbieter.kim.telematik)'), [id(5)]);
        assert.deepEqual(await find('(MAIL=PRAXIS-0005@ANBIETER.KIM.TELEMATIK)'), [id(5)], 'case-insensitive');
        assert.deepEqual(await find('(displayName=Praxis Dr. Muster 001*)'), [10, 11, 12, 13, 14, 15, 16, 17, 18, 19].map(id));
        assert.deepEqual(await find('(sn=*ster012*)'), [120, 121, 122, 123, 124, 125, 126, 127, 128, 129].map(id));
        assert.deepEqual(await find('(sn=*r0130)'), [id(130)]);
        assert.deepEqual(await find('(&(postalCode>=10125)(postalCode<=10127))'), [125, 126, 127].map(id));
        assert.deepEqual(await find('(&(telematikID=1-2001000*)(!(entryType=2)))'), [2, 3, 4, 5, 7, 8, 9].map(id));
        assert.deepEqual(await find('(|(telematikID=1-20010001)(mail=zweite@anbieter.kim.telematik))'), [1, 7].map(id));
        assert.deepEqual(await find('(&(uid=uid-000*)(givenName~=max)(sn=*))'), [1, 2, 3, 4, 5, 6, 7, 8, 9].map(id));
        assert.deepEqual(await find('(&(telematikID=1-20010011)(l=M\\c3\\bcnchen))'), [], 'uid 11 is in Berlin');
        assert.deepEqual(await find('(&(telematikID=1-20010012)(l=münchen))'), [id(12)], 'UTF-8, case-insensitive');
        assert.deepEqual(await find('(displayName=\\2a*)'), [], 'an escaped * is a literal');
      });

      test('bind good and bad', async (t) => {
        const f = fx(t);
        if (!f) return;
        const b = await ldapClient(f.ldapUrl);
        await assert.rejects(b.bind(`mail=${BIND_ADDRESS},${BASE}`, 'nope'), InvalidCredentialsError);
        await b.bind(`mail=${BIND_ADDRESS},${BASE}`, BIND_PASSWORD);
        const who = await b.exop('1.3.6.1.4.1.4203.1.11.3');
        assert.equal(who.value, `dn:mail=${BIND_ADDRESS},${BASE}`);
        await b.unbind();
      });

      test('size limit error, paging through ldapts, compare, refused writes', async (t) => {
        const f = fx(t);
        if (!f) return;
        await assert.rejects(c.search(BASE, { filter: '(objectClass=*)', attributes: ['1.1'] }), SizeLimitExceededError);
        let pages = 0;
        let count = 0;
        for await (const page of c.searchPaginated(BASE, { filter: '(l=Berlin)', attributes: ['1.1'], paged: { pageSize: 25 } })) {
          pages++;
          count += page.searchEntries.length;
        }
        assert.equal(count, ENTRIES / 2);
        assert.equal(pages, Math.ceil(ENTRIES / 2 / 25));
        assert.equal(await c.compare(`uid=uid-0001,${BASE}`, 'l', 'berlin'), true);
        assert.equal(await c.compare(`uid=uid-0001,${BASE}`, 'l', 'Hamburg'), false);
        await assert.rejects(c.add(`uid=x,${BASE}`, { cn: 'x' }), UnwillingToPerformError);
        await assert.rejects(c.del(`uid=uid-0001,${BASE}`), UnwillingToPerformError);
        await assert.rejects(c.modify(`uid=uid-0001,${BASE}`, []), UnwillingToPerformError);
      });

      test('many searches in flight on one connection are answered by message ID', async (t) => {
        if (!fx(t)) return;
        const ids = Array.from({ length: 40 }, (_, i) => (i % ENTRIES) + 1);
        const results = await Promise.all(ids.map((i) => find(`(uid=uid-${String(i).padStart(4, '0')})`)));
        assert.deepEqual(
          results,
          ids.map((i) => [`1-2001${String(i).padStart(4, '0')}`]),
        );
      });

      test('StartTLS and LDAPS with ldapts', async (t) => {
        const f = fx(t);
        if (!f) return;
        const s = await ldapClient(f.ldapUrl);
        await s.startTLS({ ca: [f.caPem], servername: 'localhost' });
        await s.bind(`mail=${BIND_ADDRESS},${BASE}`, BIND_PASSWORD);
        assert.equal((await s.search(BASE, { filter: '(uid=uid-0003)' })).searchEntries.length, 1);
        await s.unbind();
        const l = await ldapClient(f.ldapsUrl, { ca: f.caPem });
        const { searchEntries } = await l.search(BASE, { filter: '(mail=praxis-0007@anbieter.kim.telematik)', attributes: ['userCertificate;binary'], explicitBufferAttributes: ['userCertificate;binary'] });
        assert.ok(Buffer.isBuffer(searchEntries[0]!['userCertificate;binary']));
        assert.ok((searchEntries[0]!['userCertificate;binary'] as Buffer).equals(certDer));
        await l.unbind();
      });
    });
  });
}
