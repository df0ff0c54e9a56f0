import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { tempDir, testConfig } from '../helpers/env.js';
import { runSync } from '../helpers/process.js';
import { createLogger, openClientSocket } from '../../src/core/index.js';
import { BRAINPOOL_TLS13_SIGNATURES } from '../../src/core/tls-profile.js';
import { SmtpClient } from '../../src/smtp/client.js';
import { startService, type RunningService } from '../../src/roles/index.js';

// The TI's TLS profile (src/core/tls-profile.ts) on the service role's implicit-TLS listeners
// (submission, POP3S), checked with OpenSSL's s_client — a client that is not ours — and with
// our own client. Certificates are made by the openssl CLI: brainpoolP256r1, P-256 and RSA.

/** A self-signed server certificate for 127.0.0.1 with `keyArgs` (openssl req -newkey …), as <name>.crt/.key. */
function makeCert(dir: string, name: string, keyArgs: string[]): void {
  const res = runSync('openssl', ['req', '-x509', ...keyArgs, '-nodes', '-days', '2', '-subj', '/CN=127.0.0.1', '-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost', '-keyout', `${name}.key`, '-out', `${name}.crt`], { cwd: dir });
  assert.equal(res.code, 0, res.stderr);
}

interface SClient {
  ok: boolean;
  /** "TLSv1.2", "TLSv1.3", or undefined without a session. */
  protocol?: string;
  cipher?: string;
  /** The ECDHE group, e.g. "brainpoolP256r1", "X25519". */
  group?: string;
  /** The server's signature: "ECDSA", "RSA-PSS". */
  signature?: string;
  out: string;
}

/**
 * openssl s_client against a listener: waits for the greeting (SMTP refuses a client that talks
 * first), says QUIT and reads until the server closes, so the greeting is in the output; a
 * failed handshake ends s_client by itself.
 */
async function sClient(port: number, args: string[]): Promise<SClient> {
  const child = spawn('openssl', ['s_client', '-connect', `127.0.0.1:${port}`, '-ign_eof', '-no_ticket', ...args], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdin.on('error', () => undefined);
  child.stdout.on('data', (c: Buffer) => {
    stdout += c.toString('latin1');
    if (/^(220|\+OK) /m.test(stdout) && child.stdin.writable) child.stdin.end('QUIT\r\n');
  });
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString('latin1')));
  await once(child, 'close');
  const r = { stdout, stderr };
  const out = r.stdout + r.stderr;
  const m = /New, (TLSv1\.[23]), Cipher is (\S+)/.exec(out);
  // TLS 1.2 names the ECDHE group as the server's temporary key; 1.3 as the negotiated group.
  const group = /Server Temp Key: ECDH, (\w+),/.exec(out)?.[1] ?? /Server Temp Key: (X25519|X448)/.exec(out)?.[1] ?? /Negotiated TLS1\.3 group: (\w+)/.exec(out)?.[1];
  return { ok: m !== null, protocol: m?.[1], cipher: m?.[2], group, signature: /Peer signature type: (\S+)/.exec(out)?.[1], out };
}

/** The service role with `tls` as its config section, on ephemeral loopback ports. */
async function serviceWith(dir: string, tls: Record<string, unknown>): Promise<RunningService> {
  return startService(testConfig(dir, { tls }), createLogger('silent'));
}

const port = (svc: RunningService, name: 'smtp-submission' | 'pop3s'): number => svc.endpoints[name]!.port;

describe('TLS profile of the TI (GS-A_4384-01, A_17124-01, KOM-LE-A_2064-02)', () => {
  const d = tempDir();
  before(() => {
    makeCert(d.path, 'bp256', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:brainpoolP256r1']);
    makeCert(d.path, 'p256', ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256']);
    makeCert(d.path, 'rsa', ['-newkey', 'rsa:2048']);
  });
  after(() => d.cleanup());

  describe('with a brainpoolP256r1 certificate', () => {
    let svc: RunningService;
    before(async () => {
      svc = await serviceWith(join(d.path, 'svc-bp'), { cert: join(d.path, 'bp256.crt'), key: join(d.path, 'bp256.key') });
    });
    after(() => svc.close());

    for (const [name, greeting] of [
      ['smtp-submission', /^220 mx\.test\.local /m],
      ['pop3s', /^\+OK /m],
    ] as const) {
      test(`A_17124-01, KOM-LE-A_2064-02: ${name} completes TLS 1.2 with ECDHE over brainpoolP256r1 and an ECDSA suite; the greeting arrives`, async () => {
        const r = await sClient(port(svc, name), ['-tls1_2', '-curves', 'brainpoolP256r1']);
        assert.ok(r.ok, r.out);
        assert.equal(r.protocol, 'TLSv1.2');
        assert.equal(r.group, 'brainpoolP256r1');
        assert.equal(r.cipher, 'ECDHE-ECDSA-AES128-GCM-SHA256');
        assert.equal(r.signature, 'ECDSA');
        assert.match(r.out, greeting);
      });
    }

    test('A_17124-01: a client offering TLS 1.3 as well is served, in TLS 1.2 (tls.brainpoolTls13 off), on every OpenSSL', async () => {
      for (const name of ['smtp-submission', 'pop3s'] as const) {
        const r = await sClient(port(svc, name), ['-curves', 'brainpoolP256r1:X25519']);
        assert.ok(r.ok, r.out);
        assert.equal(r.protocol, 'TLSv1.2');
        assert.equal(r.signature, 'ECDSA');
      }
    });

    test('A_17124-01: a TLS 1.2 client without brainpool in its curves cannot use the certificate (RFC 8422) and gets no handshake', async () => {
      const r = await sClient(port(svc, 'pop3s'), ['-tls1_2', '-curves', 'P-256:X25519']);
      assert.equal(r.ok, false, r.out);
    });

    test('A_17124-01, KOM-LE-A_2064-02: our own clients (SMTP client, client socket) connect and verify the brainpool certificate', async () => {
      const ca = readFileSync(join(d.path, 'bp256.crt'), 'utf8');
      const smtp = await SmtpClient.connect({ host: '127.0.0.1', port: port(svc, 'smtp-submission'), tls: 'implicit', ca, clientName: 'client.test', timeoutMs: 10_000 });
      assert.equal(smtp.encrypted, true);
      await smtp.quit();
      const s = (await openClientSocket({ host: '127.0.0.1', port: port(svc, 'pop3s'), tls: 'implicit', ca, timeoutMs: 10_000 })) as TLSSocket;
      try {
        assert.equal(s.authorized, true);
        assert.match(s.getCipher().name, /^ECDHE-ECDSA-AES(128|256)-GCM-SHA(256|384)$|^TLS_AES_(128_GCM_SHA256|256_GCM_SHA384)$/);
        assert.equal(s.getProtocol(), 'TLSv1.2');
        assert.equal((s.getPeerCertificate() as { asn1Curve?: string }).asn1Curve, 'brainpoolP256r1');
      } finally {
        s.destroy();
      }
    });
  });

  describe('with a brainpoolP256r1 certificate and tls.brainpoolTls13', () => {
    let svc: RunningService;
    before(async () => {
      svc = await serviceWith(join(d.path, 'svc-bp13'), { cert: join(d.path, 'bp256.crt'), key: join(d.path, 'bp256.key'), brainpoolTls13: true });
    });
    after(() => svc.close());

    test('RFC 8734 where OpenSSL has it (3.2+): our client gets TLS 1.3 signed with the brainpool key; on OpenSSL 3.0 still TLS 1.2', async () => {
      const ca = readFileSync(join(d.path, 'bp256.crt'), 'utf8');
      const s = (await openClientSocket({ host: '127.0.0.1', port: port(svc, 'pop3s'), tls: 'implicit', ca, timeoutMs: 10_000 })) as TLSSocket;
      try {
        assert.equal(s.authorized, true);
        assert.equal(s.getProtocol(), BRAINPOOL_TLS13_SIGNATURES ? 'TLSv1.3' : 'TLSv1.2');
        assert.equal((s.getPeerCertificate() as { asn1Curve?: string }).asn1Curve, 'brainpoolP256r1');
      } finally {
        s.destroy();
      }
      // A TLS 1.2 client is served as before.
      const r = await sClient(port(svc, 'smtp-submission'), ['-tls1_2', '-curves', 'brainpoolP256r1']);
      assert.ok(r.ok, r.out);
      assert.equal(r.protocol, 'TLSv1.2');
    });
  });

  describe('with an RSA certificate', () => {
    let svc: RunningService;
    before(async () => {
      svc = await serviceWith(join(d.path, 'svc-rsa'), { cert: join(d.path, 'rsa.crt'), key: join(d.path, 'rsa.key') });
    });
    after(() => svc.close());

    test('GS-A_4384-01: TLS 1.2 with ECDHE over brainpoolP256r1 and TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256, on submission and POP3S', async () => {
      for (const [name, greeting] of [
        ['smtp-submission', /^220 /m],
        ['pop3s', /^\+OK /m],
      ] as const) {
        const r = await sClient(port(svc, name), ['-tls1_2', '-curves', 'brainpoolP256r1']);
        assert.ok(r.ok, r.out);
        assert.equal(r.group, 'brainpoolP256r1');
        assert.equal(r.cipher, 'ECDHE-RSA-AES128-GCM-SHA256');
        assert.match(r.out, greeting);
      }
    });

    test('GS-A_4384-01: TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384 over brainpoolP384r1, P-256 and P-384', async () => {
      for (const curve of ['brainpoolP384r1', 'P-256', 'P-384']) {
        const r = await sClient(port(svc, 'smtp-submission'), ['-tls1_2', '-curves', curve, '-cipher', 'ECDHE-RSA-AES256-GCM-SHA384']);
        assert.ok(r.ok, r.out);
        assert.equal(r.cipher, 'ECDHE-RSA-AES256-GCM-SHA384');
        assert.equal(r.group, { 'P-256': 'prime256v1', 'P-384': 'secp384r1' }[curve] ?? curve);
      }
    });

    test('GS-A_4384-01, KOM-LE-A_2064-02: TLS 1.2 suites outside BSI TR-02102-2 are refused (static RSA key exchange, SHA-1, no ECDHE)', async () => {
      for (const cipher of ['AES128-SHA', 'AES256-GCM-SHA384', 'ECDHE-RSA-AES128-SHA', 'ECDHE-RSA-CHACHA20-POLY1305']) {
        for (const name of ['smtp-submission', 'pop3s'] as const) {
          const r = await sClient(port(svc, name), ['-tls1_2', '-cipher', cipher]);
          assert.equal(r.ok, false, `${cipher} on ${name}:\n${r.out}`);
          assert.match(r.out, /handshake failure|no cipher/i);
        }
      }
    });

    test('GS-A_4384-01: TLS 1.3 beside TLS 1.2, with AES-GCM only (ChaCha20 is refused)', async () => {
      const r = await sClient(port(svc, 'pop3s'), ['-tls1_3']);
      assert.ok(r.ok, r.out);
      assert.equal(r.protocol, 'TLSv1.3');
      assert.match(r.cipher ?? '', /^TLS_AES_(256_GCM_SHA384|128_GCM_SHA256)$/);
      const chacha = await sClient(port(svc, 'pop3s'), ['-tls1_3', '-ciphersuites', 'TLS_CHACHA20_POLY1305_SHA256']);
      assert.equal(chacha.ok, false, chacha.out);
    });
  });

  describe('with an RSA and an ECC certificate (tls.eccCert)', () => {
    let svc: RunningService;
    before(async () => {
      svc = await serviceWith(join(d.path, 'svc-dual'), { cert: join(d.path, 'rsa.crt'), key: join(d.path, 'rsa.key'), eccCert: join(d.path, 'p256.crt'), eccKey: join(d.path, 'p256.key') });
    });
    after(() => svc.close());

    test('A_17239: a client that can take ECC gets the ECC certificate, one that cannot gets the RSA one', async () => {
      const ecc = await sClient(port(svc, 'smtp-submission'), ['-tls1_2']);
      assert.ok(ecc.ok, ecc.out);
      assert.equal(ecc.signature, 'ECDSA');
      assert.match(ecc.cipher ?? '', /^ECDHE-ECDSA-/);
      const rsa = await sClient(port(svc, 'smtp-submission'), ['-tls1_2', '-cipher', 'ECDHE-RSA-AES256-GCM-SHA384']);
      assert.ok(rsa.ok, rsa.out);
      assert.equal(rsa.cipher, 'ECDHE-RSA-AES256-GCM-SHA384');
      assert.match(rsa.signature ?? '', /^RSA/);
      // The server's order of suites (ECDSA first) decides, whatever the client lists first.
      const both = await sClient(port(svc, 'pop3s'), ['-tls1_2', '-cipher', 'ECDHE-RSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES128-GCM-SHA256']);
      assert.ok(both.ok, both.out);
      assert.equal(both.signature, 'ECDSA');
    });

    test('A_17239: our client prefers ECC when the server offers both', async () => {
      const ca = [readFileSync(join(d.path, 'rsa.crt'), 'utf8'), readFileSync(join(d.path, 'p256.crt'), 'utf8')];
      const s = (await openClientSocket({ host: '127.0.0.1', port: port(svc, 'pop3s'), tls: 'implicit', ca, timeoutMs: 10_000 })) as TLSSocket;
      try {
        assert.equal(s.authorized, true);
        assert.equal((s.getPeerCertificate() as { asn1Curve?: string }).asn1Curve, 'prime256v1');
      } finally {
        s.destroy();
      }
    });
  });
});
