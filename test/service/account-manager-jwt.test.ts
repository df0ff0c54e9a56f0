import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { join } from 'node:path';
import { SoftwareKonnektor, cardLoaderFromFiles, createTestPki, readCertificateFile, type KonnektorContext } from '../../src/crypto/index.js';
import { accountManagerJwt } from '../../src/clientmodule/account-manager-jwt.js';
import { checkAccountManagerJwt, JwtError, type JwtCheckOptions } from '../../src/service/index.js';
import { tempDir } from '../helpers/env.js';

// The Account Manager's JWT check (gemSpec_CM_KOMLE A_19457-02) on its own: each rule that
// refuses a token, with tokens the Administrationsmodul function builds over a software Konnektor.

const d = tempDir();
const C: KonnektorContext = { mandantId: 'a', clientSystemId: 'CM', workplaceId: '1' };
const X: KonnektorContext = { mandantId: 'x', clientSystemId: 'CM', workplaceId: '1' };
let k: SoftwareKonnektor;
let opts: JwtCheckOptions;
const now = () => Math.floor(Date.now() / 1000);

before(async () => {
  const practice = { id: 'praxis-a', name: 'Praxis A', telematikId: '1-20014711', email: 'a@kim.test' };
  await createTestPki({ dir: join(d.path, 'pki'), practices: [practice], tlsNames: ['localhost'] });
  // Another CA that issues a certificate with the same Telematik-ID: not trusted.
  await createTestPki({ dir: join(d.path, 'other'), practices: [practice], tlsNames: ['localhost'] });
  k = new SoftwareKonnektor({
    mandanten: [
      { id: 'a', clientSystems: ['CM'], workplaces: ['*'], smcb: cardLoaderFromFiles({ dir: 'pki/praxis-a' }, d.path) },
      { id: 'x', clientSystems: ['CM'], workplaces: ['*'], smcb: cardLoaderFromFiles({ dir: 'other/praxis-a' }, d.path) },
    ],
    trustAnchors: [],
  });
  opts = { trustAnchors: readCertificateFile(join(d.path, 'pki', 'ca.pem')).map((x) => new X509Certificate(x)), now: now(), maxLifetimeSeconds: 300, clockSkewSeconds: 60, audiences: ['https://am.test'] };
});
after(() => d.cleanup());

const refused = (token: string, pattern: RegExp, o: Partial<JwtCheckOptions> = {}) =>
  assert.throws(() => checkAccountManagerJwt(token, { ...opts, now: now(), ...o }), (e: unknown) => e instanceof JwtError && pattern.test(e.message));

const b64url = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

test('A_19457-02: a good token yields the Telematik-ID of its AUT certificate and when it expires', async () => {
  const t = await accountManagerJwt(k, C, { lifetimeSeconds: 120 });
  const header = JSON.parse(Buffer.from(t.split('.')[0]!, 'base64url').toString('utf8'));
  assert.equal(header.alg, 'PS256');
  assert.equal(header.typ, 'JWT');
  assert.equal(header.x5c.length, 1);
  const c = checkAccountManagerJwt(t, { ...opts, now: now() });
  assert.equal(c.telematikId, '1-20014711');
  assert.ok(Math.abs(c.expiresAt - (now() + 120)) <= 2);
});

test('A_19457-02: a certificate of an untrusted CA, a changed payload, another alg, missing or future nbf, a lifetime past jwtExpiration are refused', async () => {
  refused(await accountManagerJwt(k, X), /not issued by a trusted CA/);
  const [h, p, s] = (await accountManagerJwt(k, C)).split('.') as [string, string, string];
  const claims = JSON.parse(Buffer.from(p, 'base64url').toString('utf8'));
  refused(`${h}.${b64url({ ...claims, nbf: claims.nbf - 1 })}.${s}`, /signature does not verify/);
  const header = JSON.parse(Buffer.from(h, 'base64url').toString('utf8'));
  refused(`${b64url({ ...header, alg: 'HS256' })}.${p}.${s}`, /PS256 expected/);
  refused(`${b64url({ ...header, x5c: [] })}.${p}.${s}`, /no x5c/);
  refused('a.b', /compact serialization/);
  refused(`${h}.${p}.${s}!`, /not base64url/);
  // Claims are signed, so these go through the Konnektor like a real token.
  const signed = async (c: Record<string, unknown>) => {
    const input = `${h}.${b64url(c)}`;
    const { createHash } = await import('node:crypto');
    return `${input}.${Buffer.from(await k.externalAuthenticate(C, { hash: createHash('sha256').update(input).digest() })).toString('base64url')}`;
  };
  refused(await signed({ exp: now() + 60 }), /nbf is missing/);
  refused(await signed({ nbf: now() + 600 }), /not valid yet/);
  refused(await signed({ nbf: now() - 400, exp: now() + 600 }), /expired/);
  refused(await signed({ nbf: now(), aud: ['https://other.test'] }), /aud names another service/);
  refused(await signed({ nbf: now(), aud: 7 }), /aud is not a string/);
  checkAccountManagerJwt(await signed({ nbf: now(), aud: ['https://other.test', 'https://am.test'] }), { ...opts, now: now() });
});
