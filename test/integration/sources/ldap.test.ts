import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LdapSource } from '../../../src/integration/index.js';
import { publishAddress } from '../../../src/directory/index.js';
import { startLdapFixture, practice, BASE, BIND_ADDRESS, BIND_PASSWORD } from '../../helpers/ldap-fixture.js';
import { collect } from '../../helpers/stream.js';

test("ldap source against Postamt's own directory: paged search to list, bind to authenticate", async () => {
  const fx = await startLdapFixture(
    'sqlite',
    async (d) => {
      for (let i = 1; i <= 30; i++) await d.add(practice(i));
      await publishAddress(d, '1-20014711', BIND_ADDRESS, 'Praxis A');
    },
    { sizeLimit: 1000 },
  );
  assert.ok(fx);
  try {
    const opts = {
      name: 'vzd',
      priority: 1,
      url: fx.ldapUrl,
      startTls: false,
      rejectUnauthorized: true,
      baseDn: BASE,
      scope: 'sub' as const,
      filter: '(mail=*)',
      userNameAttribute: 'mail',
      fullNameAttribute: 'displayName',
      emailAttributes: ['mail'],
      userDnTemplate: `mail={user},${BASE}`,
      pageSize: 7,
      timeoutMs: 5000,
    };
    const src = new LdapSource(opts);
    const users = await collect(src.list());
    assert.equal(users.length, 31);
    const a = users.find((u) => u.userName === BIND_ADDRESS)!;
    assert.equal(a.fullName, 'Praxis A');
    assert.deepEqual(a.emailAddresses, [BIND_ADDRESS]);
    assert.match(a.distinguishedName!, /,dc=data,dc=vzd$/i);
    assert.equal(users.find((u) => u.userName === 'praxis-0007@anbieter.kim.telematik')!.fullName, 'Praxis Dr. Muster 0007');
    assert.equal(await src.authenticate(BIND_ADDRESS, BIND_PASSWORD), true);
    assert.equal(await src.authenticate(BIND_ADDRESS, 'wrong password'), false);
    assert.equal(await src.authenticate(BIND_ADDRESS, ''), false, 'an empty password is never an unauthenticated bind');
    assert.equal(await src.authenticate('nobody@praxis.kim.test', BIND_PASSWORD), null);
    assert.equal(await src.authenticate('x)(mail=*', BIND_PASSWORD), null, 'filter metacharacters are escaped');
    // Over StartTLS with the directory's certificate as CA.
    const tls = new LdapSource({ ...opts, startTls: true, ca: fx.caPem });
    assert.equal((await collect(tls.list())).length, 31);
    assert.equal(await tls.authenticate(BIND_ADDRESS, BIND_PASSWORD), true);
    // A server-side size limit is an error, never a short list.
    const limited = await startLdapFixture('sqlite', async (d) => {
      for (let i = 1; i <= 12; i++) await d.add(practice(i));
    }, { sizeLimit: 5 });
    try {
      await assert.rejects(collect(new LdapSource({ ...opts, url: limited!.ldapUrl }).list()));
    } finally {
      await limited!.close();
    }
  } finally {
    await fx.close();
  }
});
