import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { assertValid, call, CTX, CTX2, faultOf, startSimFixture, type SimFixture } from './fixture.js';

// The simulator's faults: TelematikError SOAP faults (validated against TelematikError.xsd) for
// the call context, stale handles, PINs and injected failures; HTTP answers for oversized and
// malformed requests; and the server answering normally after each of them.

let f: SimFixture;

before(async () => {
  f = await startSimFixture({ maxRequestBytes: 64 * 1024, clientAuth: { type: 'none' } });
});
after(async () => {
  await f?.close();
});

async function handle(): Promise<string> {
  return f.sim.simulator.cardHandle('1');
}

function gerror(raw: string): string {
  const m = /<GERROR:Error[\s\S]*<\/GERROR:Error>/.exec(raw);
  assert.ok(m, `no GERROR:Error in ${raw.slice(0, 500)}`);
  return m[0];
}

/** The server still answers a plain GetCards. */
async function stillServes(): Promise<void> {
  const { result } = await call(await f.client('EventService'), 'GetCards', { Context: CTX }, f.agent);
  assert.ok(result['Cards']);
}

function post(path: string, body: Buffer | string, headers: Record<string, string | number> = {}): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(`${f.sim.simulator.endpointOf('EventService').replace(/\/eventservice$/, '')}${path}`, { method: 'POST', agent: f.agent, headers: { 'content-type': 'text/xml; charset=utf-8', ...headers } }, (res) => {
      let s = '';
      res.setEncoding('utf8');
      res.on('data', (c: string) => (s += c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: s }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('call context', () => {
  for (const [what, ctx, code] of [
    ['unknown Mandant', { ...CTX, MandantId: '99' }, '4004'],
    ['ClientSystem not registered for the Mandant', { ...CTX, ClientSystemId: 'PVS' }, '4005'],
    ['Workplace not allowed', { ...CTX, WorkplaceId: '9' }, '4006'],
  ] as const) {
    test(`${what} is a SOAP fault with TelematikError ${code} (gemSpec_CM_KOMLE: 4004-4006)`, async () => {
      const fault = await faultOf(await f.client('EventService'), 'GetCards', { Context: ctx }, f.agent);
      assert.equal(fault.status, 500);
      assert.equal(fault.code, code);
      assert.match(fault.raw, /<faultcode>soap:Server<\/faultcode>/);
      assertValid(gerror(fault.raw), 'tel/error/TelematikError.xsd', f.dir);
      await stillServes();
    });
  }

  test('a card handle of another Mandant is not valid in this context (4101)', async () => {
    const fault = await faultOf(await f.client('CardService'), 'GetPinStatus', { Context: CTX2, CardHandle: await handle(), PinTyp: 'PIN.SMC' }, f.agent);
    assert.equal(fault.code, '4101');
  });
});

describe('cards', () => {
  test('reinsertCard: the old handle is stale (4101), the new one works and GetCards reports it', async () => {
    const old = await handle();
    const fresh = f.sim.simulator.reinsertCard('1');
    assert.notEqual(fresh, old);
    const c = await f.client('CertificateService');
    const args = (h: string) => ({ CardHandle: h, Context: CTX, CertRefList: { CertRef: 'C.ENC' } });
    const fault = await faultOf(c, 'ReadCardCertificate', args(old), f.agent);
    assert.equal(fault.code, '4101');
    assertValid(gerror(fault.raw), 'tel/error/TelematikError.xsd', f.dir);
    await call(c, 'ReadCardCertificate', args(fresh), f.agent);
    const { raw } = await call(await f.client('EventService'), 'GetCards', { Context: CTX }, f.agent);
    assert.ok(raw.includes(`>${fresh}<`));
  });

  test('a blocked PIN: GetPinStatus BLOCKED, VerifyPin WASBLOCKED, DecryptDocument and SignDocument refused (4063)', async () => {
    f.sim.simulator.setPinStatus('1', 'BLOCKED');
    try {
      const h = await handle();
      const card = await f.client('CardService');
      assert.equal((await call(card, 'GetPinStatus', { Context: CTX, CardHandle: h, PinTyp: 'PIN.SMC' }, f.agent)).result['PinStatus'], 'BLOCKED');
      assert.equal((await call(card, 'VerifyPin', { Context: CTX, CardHandle: h, PinTyp: 'PIN.SMC' }, f.agent)).result['PinResult'], 'WASBLOCKED');
      const dec = await faultOf(await f.client('EncryptionService'), 'DecryptDocument', { Context: CTX, PrivateKeyOnCard: { CardHandle: h, Crypt: 'RSA' }, Document: { Base64Data: 'AAAA' } }, f.agent);
      assert.equal(dec.code, '4063');
      const sign = await faultOf(
        await f.client('SignatureService'),
        'SignDocument',
        { CardHandle: h, Context: CTX, TvMode: 'NONE', SignRequest: { attributes: { RequestID: 'r' }, Document: { Base64Data: 'AAAA' }, IncludeRevocationInfo: false } },
        f.agent,
      );
      assert.equal(sign.code, '4063');
    } finally {
      f.sim.simulator.setPinStatus('1', 'VERIFIED');
    }
  });

  test('a PIN not verified: DecryptDocument refused (4085)', async () => {
    f.sim.simulator.setPinStatus('1', 'VERIFIABLE');
    try {
      const dec = await faultOf(await f.client('EncryptionService'), 'DecryptDocument', { Context: CTX, PrivateKeyOnCard: { CardHandle: await handle() }, Document: { Base64Data: 'AAAA' } }, f.agent);
      assert.equal(dec.code, '4085');
    } finally {
      f.sim.simulator.setPinStatus('1', 'VERIFIED');
    }
  });

  test('DecryptDocument of bytes that are no AuthEnvelopedData: decryption failed (4208)', async () => {
    const dec = await faultOf(await f.client('EncryptionService'), 'DecryptDocument', { Context: CTX, PrivateKeyOnCard: { CardHandle: await handle(), Crypt: 'RSA' }, Document: { Base64Data: Buffer.from('not cms').toString('base64') } }, f.agent);
    assert.equal(dec.code, '4208');
    assertValid(gerror(dec.raw), 'tel/error/TelematikError.xsd', f.dir);
  });

  test('ReadCardCertificate C.AUT ECC: the key is not on the card (4149; the test SMC-B has an RSA C.AUT only)', async () => {
    const fault = await faultOf(await f.client('CertificateService'), 'ReadCardCertificate', { CardHandle: await handle(), Context: CTX, CertRefList: { CertRef: 'C.AUT' }, Crypt: 'ECC' }, f.agent);
    assert.equal(fault.code, '4149');
  });
});

describe('test API', () => {
  test('failNext answers the next call with the fault, then normally; calls() counts each call', async () => {
    const before = f.sim.simulator.calls('GetCards');
    f.sim.simulator.failNext('GetCards', 4001);
    const fault = await faultOf(await f.client('EventService'), 'GetCards', { Context: CTX }, f.agent);
    assert.equal(fault.code, '4001');
    await stillServes();
    assert.equal(f.sim.simulator.calls('GetCards'), before + 2);
  });

  test('setDelay: every answer waits at least the delay', async () => {
    f.sim.simulator.setDelay(150);
    try {
      const t0 = performance.now();
      await stillServes();
      assert.ok(performance.now() - t0 >= 140);
    } finally {
      f.sim.simulator.setDelay(0);
    }
  });
});

describe('HTTP', () => {
  test('a request larger than maxRequestBytes gets 413 before it is parsed; the server stays up', async () => {
    const big = Buffer.alloc(200 * 1024, 'a');
    const res = await post('/eventservice', big).catch((err: unknown) => ({ status: -1, body: String(err) }));
    assert.equal(res.status, 413, res.body);
    // Without Content-Length (chunked) as well.
    const chunked = await new Promise<number>((resolve, reject) => {
      const req = request(f.sim.simulator.endpointOf('EventService'), { method: 'POST', agent: f.agent, headers: { 'content-type': 'text/xml' } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      for (let i = 0; i < 10; i++) req.write(Buffer.alloc(16 * 1024, 'b'));
      req.end();
    });
    assert.equal(chunked, 413);
    await stillServes();
  });

  test('malformed XML and an unknown element are SOAP faults 4000 (Syntaxfehler); the server stays up', async () => {
    const broken = await post('/eventservice', '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><GetCards');
    assert.equal(broken.status, 500);
    assert.match(broken.body, /<GERROR:Code>4000<\/GERROR:Code>/);
    assertValid(gerror(broken.body), 'tel/error/TelematikError.xsd', f.dir);
    const unknown = await post('/eventservice', '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><Nothing xmlns="urn:x"/></soap:Body></soap:Envelope>');
    assert.equal(unknown.status, 500);
    assert.match(unknown.body, /<GERROR:Code>4000<\/GERROR:Code>/);
    await stillServes();
  });

  test('an operation of the WSDL the simulator does not offer is a SOAP fault 4000', async () => {
    const fault = await faultOf(await f.client('EventService'), 'GetCardTerminals', { Context: CTX }, f.agent);
    assert.equal(fault.code, '4000');
  });
});

describe('HTTP Basic', () => {
  test('with clientAuth basic, a request without or with wrong credentials gets 401; with them it is served; the SDS says ClientAutMandatory', async () => {
    const g = await startSimFixture({ clientAuth: { type: 'basic', user: 'ps', password: 'geheim' } });
    try {
      const c = await g.client('EventService');
      const noAuth = await faultOf(c, 'GetCards', { Context: CTX }, g.agent);
      assert.equal(noAuth.status, 401);
      const { BasicAuthSecurity } = await import('soap');
      c.setSecurity(new BasicAuthSecurity('ps', 'falsch'));
      assert.equal((await faultOf(c, 'GetCards', { Context: CTX }, g.agent)).status, 401);
      c.setSecurity(new BasicAuthSecurity('ps', 'geheim'));
      const { result } = await call(c, 'GetCards', { Context: CTX }, g.agent);
      assert.ok(result['Cards']);
    } finally {
      await g.close();
    }
  });
});
