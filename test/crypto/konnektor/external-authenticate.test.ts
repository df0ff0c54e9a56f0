import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { KonnektorError, SoapKonnektor, SoftwareKonnektor, cardLoaderFromFiles, type Konnektor, type KonnektorContext } from '../../../src/crypto/index.js';
import { opensslIn } from '../../helpers/openssl.js';
import { externalAuthenticateXml } from '../../../src/crypto/konnektor/soap/requests.js';
import { assertValid, bodyChild, call, CTX, startSimFixture, type SimFixture } from '../../konnektor-sim/fixture.js';

// AuthSignatureService.ExternalAuthenticate (gemSpec_CM_KOMLE A_19457-02: the JWT's hash signed
// with the SMC-B's C.HCI.AUT key, RSASSA-PSS): the software Konnektor, and the SOAP client
// against the Konnektor simulator; OpenSSL (not our code) verifies each signature.

const A: KonnektorContext = { mandantId: '1', clientSystemId: 'KOM_LE', workplaceId: '7' };
let f: SimFixture;
let soapK: SoapKonnektor;
let soft: SoftwareKonnektor;
const { openssl } = opensslIn(() => f.dir);

before(async () => {
  f = await startSimFixture();
  soft = new SoftwareKonnektor({ mandanten: [{ id: '1', clientSystems: ['KOM_LE'], workplaces: ['7'], smcb: cardLoaderFromFiles({ dir: 'pki/praxis-a' }, f.dir) }], trustAnchors: [] });
  soapK = new SoapKonnektor({ url: f.sim.sdsUrl, cardCacheMs: 60_000, transport: { ca: [f.caPem], timeoutMs: 10_000, maxResponseBytes: 1 << 20 } });
});
after(async () => {
  await soapK?.close();
  await f?.close();
});

/** OpenSSL verifies `sig` over `data` with the public key of the AUT certificate. */
function opensslVerifies(data: Buffer, sig: Uint8Array, scheme: 'pss' | 'pkcs1'): boolean {
  writeFileSync(join(f.dir, 'data.bin'), data);
  writeFileSync(join(f.dir, 'sig.bin'), sig);
  const pub = openssl(['x509', '-in', join(f.dir, 'pki', 'praxis-a', 'aut.pem'), '-pubkey', '-noout', '-out', join(f.dir, 'aut-pub.pem')]);
  assert.ok(pub.ok, pub.stderr);
  const pss = scheme === 'pss' ? ['-sigopt', 'rsa_padding_mode:pss', '-sigopt', 'rsa_pss_saltlen:32', '-sigopt', 'rsa_mgf1_md:sha256'] : [];
  return openssl(['dgst', '-sha256', '-verify', join(f.dir, 'aut-pub.pem'), ...pss, '-signature', join(f.dir, 'sig.bin'), join(f.dir, 'data.bin')]).ok;
}

const kinds = (): Array<[string, Konnektor]> => [
  ['software Konnektor', soft],
  ['SOAP client via the simulator', soapK],
];

describe('ExternalAuthenticate (A_19457-02)', () => {
  test('A_19457-02: RSASSA-PSS over a SHA-256 hash with C.HCI.AUT verifies with OpenSSL (PS256), software and SOAP', async () => {
    for (const [name, k] of kinds()) {
      const data = Buffer.from(`header.payload of ${name}`);
      const sig = await k.externalAuthenticate(A, { hash: createHash('sha256').update(data).digest() });
      assert.equal(sig.length, 256, name);
      assert.ok(opensslVerifies(data, sig, 'pss'), `${name}: OpenSSL verifies`);
      assert.ok(!opensslVerifies(Buffer.from('other data'), sig, 'pss'), `${name}: not for other data`);
    }
  });

  test('RSASSA-PKCS1-v1_5 when SignatureSchemes asks for it', async () => {
    for (const [name, k] of kinds()) {
      const data = Buffer.from('pkcs1 data');
      const sig = await k.externalAuthenticate(A, { hash: createHash('sha256').update(data).digest(), scheme: 'RSASSA-PKCS1-v1_5' });
      assert.ok(opensslVerifies(data, sig, 'pkcs1'), name);
    }
  });

  test('the C.AUT certificate is readable (ReadCardCertificate C.AUT) and is the one that signs', async () => {
    const cert = await soapK.readCardCertificate(A, 'C.AUT');
    const local = await soft.readCardCertificate(A, 'C.AUT');
    assert.deepEqual(Buffer.from(cert), Buffer.from(local));
  });

  test('an unknown Mandant and a hash that is not SHA-256 are refused', async () => {
    await assert.rejects(soft.externalAuthenticate({ ...A, mandantId: 'x' }, { hash: new Uint8Array(32) }), (e: unknown) => e instanceof KonnektorError && e.code === 'unknown-mandant');
    await assert.rejects(soft.externalAuthenticate(A, { hash: new Uint8Array(20) }), (e: unknown) => e instanceof KonnektorError && e.code === 'refused');
    await assert.rejects(soapK.externalAuthenticate({ ...A, mandantId: 'x' }, { hash: new Uint8Array(32) }), (e: unknown) => e instanceof KonnektorError && e.code === 'unknown-mandant');
  });

  test('the request the SOAP client sends and the simulator\'s answer are valid against gematik\'s SignatureService.xsd (v7.4)', async () => {
    assertValid(externalAuthenticateXml(A, 'SMCB-1', new Uint8Array(32).fill(7), 'RSASSA-PSS'), 'conn/SignatureService.xsd', f.dir);
    const events = await f.client('EventService');
    const { result } = await call(events, 'GetCards', { Context: CTX }, f.agent);
    const cards = (result['Cards'] as { Card: unknown }).Card;
    const handle = ((Array.isArray(cards) ? cards : [cards]) as Array<{ CardHandle: string; CardType: string }>).find((c) => c.CardType === 'SMC-B')!.CardHandle;
    const hash = createHash('sha256').update('via node-soap').digest();
    const { raw } = await call(await f.client('AuthSignatureService'), 'ExternalAuthenticate', {
      CardHandle: handle,
      Context: CTX,
      OptionalInputs: { SignatureType: 'urn:ietf:rfc:3447', SignatureSchemes: 'RSASSA-PSS' },
      BinaryString: { Base64Data: { attributes: { MimeType: 'application/octet-stream' }, $value: hash.toString('base64') } },
    }, f.agent);
    assertValid(bodyChild(raw), 'conn/SignatureService.xsd', f.dir);
    assert.match(raw, /Base64Signature Type="urn:ietf:rfc:3447"/);
  });

  test('AuthSignatureService is optional in connector.sds: a directory without it is still usable (the mail services are all there), one with it names 7.4.1', async () => {
    const { parseServiceDirectory } = await import('../../../src/crypto/index.js');
    const { get } = await import('node:https');
    const xml = await new Promise<string>((resolve, reject) => {
      get(f.sim.sdsUrl, { agent: f.agent }, (res) => {
        let b = '';
        res.setEncoding('utf8');
        res.on('data', (c: string) => (b += c));
        res.on('end', () => resolve(b));
      }).on('error', reject);
    });
    const without = xml.replace(/<SI:Service Name="AuthSignatureService">[\s\S]*?<\/SI:Service>/, '');
    assert.notEqual(without, xml, 'the simulator announces AuthSignatureService');
    const dir = parseServiceDirectory(without, f.sim.sdsUrl);
    assert.equal(dir.services.AuthSignatureService, undefined);
    assert.equal(parseServiceDirectory(xml, f.sim.sdsUrl).services.AuthSignatureService?.version, '7.4.1');
  });
});