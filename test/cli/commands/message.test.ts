import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { postamtSync } from '../../helpers/process.js';

// `postamt message seal` and `open` through the built CLI, on a PKI made by `postamt pki init`.

let dir: string;
const msg = Buffer.from(
  'From: Praxis A <praxis-a@praxis.kim.test>\r\nTo: praxis-b@praxis.kim.test\r\nSubject: Brief\r\nMessage-ID: <cli-1@praxis.kim.test>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\nGrüße\r\n',
  'utf8',
);

const postamt = (args: string[]) => postamtSync(args, { env: { ...process.env, POSTAMT_DATA_DIR: dir } });

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'postamt-msg-cli-'));
  const init = postamt(['pki', 'init', '--dir', join(dir, 'pki')]);
  assert.equal(init.code, 0, init.stderr);
  writeFileSync(join(dir, 'in.eml'), msg);
});

after(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
});

test('seal then open: every check printed, exit 0, inner message identical', () => {
  const p = (s: string) => join(dir, s);
  const seal = postamt(['message', 'seal', p('in.eml'), '--from-identity', p('pki/praxis-a'), '--to-cert', p('pki/praxis-b/enc.pem'), '--out', p('sealed.eml')]);
  assert.equal(seal.code, 0, seal.stderr);
  assert.match(seal.stdout, /sealed <cli-1@praxis\.kim\.test> for praxis-b@praxis\.kim\.test, praxis-a@praxis\.kim\.test \(3 RecipientInfos\)/);
  assert.match(readFileSync(p('sealed.eml'), 'latin1'), /X-KOM-LE-Version: 1\.0\r\n/, 'default: 1.0 (no KAS content)');
  const open = postamt(['message', 'open', p('sealed.eml'), '--key', p('pki/praxis-b/enc.key'), '--trust', p('pki/ca.pem'), '--out', p('inner.eml'), '--present', p('pvs.eml')]);
  assert.equal(open.code, 0, open.stdout + open.stderr);
  for (const check of ['komle-version', 'outer-format', 'decryption', 'signed-data-format', 'signature', 'digest', 'validity', 'chain', 'key-usage', 'recipient-emails', 'headers', 'signer-sender']) {
    assert.match(open.stdout, new RegExp(`^ok +${check} `, 'm'));
  }
  assert.match(open.stdout, /X-KIM-DecryptionResult: 00/);
  assert.match(open.stdout, /X-KIM-IntegrityCheckResult: 01/);
  // The one change: the default Dienstkennung at the end of the header (A_19488-02), the message had none.
  const withDienstkennung = Buffer.from(msg.toString('latin1').replace('\r\n\r\n', '\r\nX-KIM-Dienstkennung: KIM-Mail;Default;V1.0\r\n\r\n'), 'latin1');
  assert.ok(readFileSync(p('inner.eml')).equals(withDienstkennung));
  assert.match(readFileSync(p('pvs.eml'), 'utf8'), /^X-KIM-DecryptionResult: 00\r\nX-KIM-IntegrityCheckResult: 01\r\n[\s\S]*Die Signatur wurde erfolgreich geprüft\./);
});

test('seal with a .p12 identity, open with a .p12 key; a foreign trust anchor fails with exit 1', () => {
  const p = (s: string) => join(dir, s);
  const seal = postamt(['message', 'seal', p('in.eml'), '--from-identity', p('pki/praxis-a/osig.p12'), '--password', 'postamt-test', '--to-cert', `praxis-b@praxis.kim.test=${p('pki/praxis-b/enc.pem')}`, '--komle-version', '1.5', '--out', p('sealed2.eml')]);
  assert.equal(seal.code, 0, seal.stderr);
  assert.match(readFileSync(p('sealed2.eml'), 'latin1'), /X-KOM-LE-Version: 1\.5\r\n/);
  const ok = postamt(['message', 'open', p('sealed2.eml'), '--key', p('pki/praxis-b/enc.p12'), '--password', 'postamt-test', '--trust', p('pki/ca.pem')]);
  assert.equal(ok.code, 0, ok.stdout + ok.stderr);
  const foreign = postamt(['message', 'open', p('sealed2.eml'), '--key', p('pki/praxis-b/enc.p12'), '--password', 'postamt-test', '--trust', p('pki/tls/server.pem')]);
  assert.equal(foreign.code, 1);
  assert.match(foreign.stdout, /^FAIL chain /m);
  assert.match(foreign.stdout, /X-KIM-IntegrityCheckResult: 05/);
});

test('wrong key: exit 1 with 01/4009; non-KOM-LE: exit 1; usage errors: exit 2', () => {
  const p = (s: string) => join(dir, s);
  const wrong = postamt(['message', 'open', p('sealed.eml'), '--key', p('pki/tls/client.key'), '--trust', p('pki/ca.pem')]);
  assert.equal(wrong.code, 1);
  assert.match(wrong.stdout, /X-KIM-DecryptionResult: 01[\s\S]*X-KIM-Fehlermeldung: 4009/);
  const plain = postamt(['message', 'open', p('in.eml'), '--key', p('pki/praxis-b/enc.key'), '--trust', p('pki/ca.pem')]);
  assert.equal(plain.code, 1);
  assert.match(plain.stdout, /not a KOM-LE message/);
  const noTo = postamt(['message', 'seal', p('in.eml'), '--from-identity', p('pki/praxis-a')]);
  assert.equal(noTo.code, 2);
  assert.match(noTo.stderr, /--to-cert/);
});

test('A_17220: ECC keys: sealed for an ECC certificate with an ECDSA signature, opened with the ECC key or the practice directory', () => {
  const p = (s: string) => join(dir, s);
  const seal = postamt(['message', 'seal', p('in.eml'), '--from-identity', p('pki/praxis-a'), '--signature-key', 'ecc', '--to-cert', p('pki/praxis-b/enc-ecc.pem'), '--out', p('sealed-ecc.eml')]);
  assert.equal(seal.code, 0, seal.stderr);
  // B's ECC certificate, and A's own RSA and ECC ones.
  assert.match(seal.stdout, /\(3 RecipientInfos\)/);
  for (const key of [p('pki/praxis-b/enc-ecc.key'), p('pki/praxis-b')]) {
    const open = postamt(['message', 'open', p('sealed-ecc.eml'), '--key', key, '--trust', p('pki/ca.pem')]);
    assert.equal(open.code, 0, open.stdout + open.stderr);
    assert.match(open.stdout, /X-KIM-DecryptionResult: 00/);
    assert.match(open.stdout, /X-KIM-IntegrityCheckResult: 01/);
    assert.match(open.stdout, /^ok +signature .*ECDSA SHA-256/m);
  }
  // B's RSA key is not among the recipients.
  const rsa = postamt(['message', 'open', p('sealed-ecc.eml'), '--key', p('pki/praxis-b/enc.key'), '--trust', p('pki/ca.pem')]);
  assert.equal(rsa.code, 1);
  assert.match(rsa.stdout, /X-KIM-DecryptionResult: 01/);
  assert.equal(postamt(['message', 'seal', p('in.eml'), '--from-identity', p('pki/praxis-a'), '--signature-key', 'dsa', '--to-cert', p('pki/praxis-b/enc.pem')]).code, 2);
});

test('an ECC-only practice seals (ECDSA, its ECC certificate) and opens', () => {
  const p = (s: string) => join(dir, s);
  const init = postamt(['pki', 'init', '--dir', p('pki-e'), '--practice', 'praxis-e;Praxis E;1-20014715;praxis-e@praxis.kim.test;ecc', '--practice', 'praxis-b;Praxis B;1-20014712;praxis-b@praxis.kim.test']);
  assert.equal(init.code, 0, init.stderr);
  const seal = postamt(['message', 'seal', p('in.eml'), '--from-identity', p('pki-e/praxis-e'), '--from', 'praxis-e@praxis.kim.test', '--to-cert', p('pki-e/praxis-b/enc.pem'), '--out', p('sealed-e.eml')]);
  assert.equal(seal.code, 0, seal.stderr);
  const open = postamt(['message', 'open', p('sealed-e.eml'), '--key', p('pki-e/praxis-b'), '--trust', p('pki-e/ca.pem')]);
  assert.match(open.stdout, /X-KIM-DecryptionResult: 00/);
  assert.match(open.stdout, /^ok +signature .*ECDSA/m);
  // The sender's own copy: its ECC key opens it.
  const own = postamt(['message', 'open', p('sealed-e.eml'), '--key', p('pki-e/praxis-e'), '--trust', p('pki-e/ca.pem')]);
  assert.match(own.stdout, /X-KIM-DecryptionResult: 00/);
});

test('--help of seal and open explains options and gives examples', () => {
  for (const cmd of ['seal', 'open']) {
    const h = postamt(['message', cmd, '--help']);
    assert.equal(h.code, 0);
    assert.match(h.stdout, /Examples:/);
  }
  assert.match(postamt(['message', 'seal', '--help']).stdout, /--to-cert[\s\S]*--komle-version[\s\S]*--ttl-days/);
  assert.match(postamt(['--help']).stdout, /message/);
});
