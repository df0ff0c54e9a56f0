import { before, test } from 'node:test';
import assert from 'node:assert/strict';
import { CmsError, decodeRecipientEmails, decryptAuthEnveloped, encodeRecipientEmails, encryptAuthEnveloped, recipientIdOf, signData, verifySignedData, type CmsErrorCode } from '../../../src/crypto/index.js';
import { createTestPki, type EccTestIdentity, type TestPki } from '../../helpers/pki.js';
import { prng } from '../../helpers/prng.js';

// A seeded mutation fuzzer for the two decoders: whatever the bytes, the only possible outcomes
// are a result or a CmsError with a deliberate code — never another exception, never 'internal'.

const SEED = Number(process.env.CMS_FUZZ_SEED ?? 0x5eed);
const ROUNDS = Number(process.env.CMS_FUZZ_ROUNDS ?? 2000);
const DELIBERATE: readonly CmsErrorCode[] = ['malformed', 'unsupported', 'no-recipient', 'decrypt-failed', 'tag-mismatch', 'signer-not-found'];


/** One to three structural mutations: bit flips, interesting bytes, cuts, inserts, duplicated runs. */
function mutate(input: Uint8Array, rnd: () => number): Uint8Array {
  let data = Buffer.from(input);
  const int = (n: number): number => Math.floor(rnd() * n);
  const rounds = 1 + int(3);
  for (let r = 0; r < rounds; r++) {
    const at = int(data.length);
    switch (int(7)) {
      case 0:
        data[at] = (data[at] ?? 0) ^ (1 << int(8));
        break;
      case 1:
        data[at] = [0x00, 0x01, 0x7f, 0x80, 0x81, 0x84, 0xff, 0x30, 0xa0][int(9)] ?? 0;
        break;
      case 2:
        data = data.subarray(0, at);
        break;
      case 3:
        data = Buffer.concat([data.subarray(0, at), Buffer.from(Array.from({ length: 1 + int(8) }, () => int(256))), data.subarray(at)]);
        break;
      case 4:
        data = Buffer.concat([data.subarray(0, at), data.subarray(Math.min(data.length, at + 1 + int(32)))]);
        break;
      case 5: {
        const len = 1 + int(64);
        data = Buffer.concat([data.subarray(0, at), data.subarray(at, at + len), data.subarray(at)]);
        break;
      }
      default:
        // Lengths are where parsers break: bump the byte after a likely tag.
        if (at + 1 < data.length) data[at + 1] = (data[at + 1]! + 1 + int(4)) & 0xff;
    }
    if (data.length === 0) break;
  }
  return Uint8Array.from(data);
}

function classify(fn: () => unknown): string {
  try {
    fn();
    return 'ok';
  } catch (err) {
    if (!(err instanceof CmsError)) throw new Error(`untyped exception: ${String(err)}`, { cause: err });
    if (!DELIBERATE.includes(err.code)) throw new Error(`unexpected code ${err.code}: ${err.message}`, { cause: err });
    return err.code;
  }
}

function tally(outcomes: string[]): string {
  const counts = new Map<string, number>();
  for (const o of outcomes) counts.set(o, (counts.get(o) ?? 0) + 1);
  return [...counts].map(([k, v]) => `${k}=${v}`).join(' ');
}

let pki: TestPki;
let signed: Uint8Array;
let sealed: Uint8Array;
let ecc: EccTestIdentity;
let sealedEcc: Uint8Array;
let signedEcc: Uint8Array;

before(async () => {
  pki = await createTestPki();
  ecc = await pki.issueEcc({ email: 'ecc@test.kim.telematik', usage: 'enc' });
  const eccSigner = await pki.issueEcc({ email: 'ecc@test.kim.telematik', usage: 'sign' });
  // TI-ECIES (A_17220) and ECDSA go through the same decoders: fuzzed as their own seeds.
  sealedEcc = encryptAuthEnveloped(Buffer.from('Fuzz ECC'), [{ certDer: ecc.certDer, email: ecc.email }]);
  signedEcc = signData(Buffer.from('Fuzz ECDSA'), { certDer: eccSigner.certDer, privateKey: eccSigner.privateKey }, { scheme: 'pss', recipientEmails: [{ email: ecc.email, rid: recipientIdOf(ecc.certDer) }] });
  const emails = [{ email: pki.recipient.email, rid: recipientIdOf(pki.recipient.certDer) }];
  // Small content so that mutations mostly land in the structure, not in the payload.
  signed = signData(Buffer.from('Fuzz me: Übertragung\r\n'), { certDer: pki.signer.certDer, privateKey: pki.signer.pkcs8 }, { scheme: 'pss', recipientEmails: emails });
  sealed = encryptAuthEnveloped(Buffer.from('Fuzz me too'), [{ certDer: pki.recipient.certDer, email: pki.recipient.email }]);
});

test(`verifySignedData: ${ROUNDS} mutated inputs, seed ${SEED}`, (t) => {
  const rnd = prng(SEED);
  const outcomes: string[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const input = mutate(signed, rnd);
    outcomes.push(classify(() => {
      const v = verifySignedData(input, { trustAnchors: [pki.ca.certDer] });
      assert.equal(typeof v.ok, 'boolean');
      if (v.ok) assert.ok(v.content.length >= 0);
    }));
  }
  t.diagnostic(tally(outcomes));
});

test(`decryptAuthEnveloped: ${ROUNDS} mutated inputs, seed ${SEED + 1}`, (t) => {
  const rnd = prng(SEED + 1);
  const key = { certDer: pki.recipient.certDer, privateKey: pki.recipient.privateKey };
  const outcomes: string[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    const input = mutate(sealed, rnd);
    outcomes.push(classify(() => decryptAuthEnveloped(input, key)));
  }
  t.diagnostic(tally(outcomes));
});

test(`decryptAuthEnveloped with a TI-ECIES RecipientInfo (A_17220): ${ROUNDS} mutated inputs, seed ${SEED + 4}`, (t) => {
  const rnd = prng(SEED + 4);
  const key = { certDer: ecc.certDer, privateKey: ecc.privateKey };
  const outcomes: string[] = [];
  for (let i = 0; i < ROUNDS; i++) outcomes.push(classify(() => decryptAuthEnveloped(mutate(sealedEcc, rnd), key)));
  t.diagnostic(tally(outcomes));
  for (let n = 0; n < sealedEcc.length; n++) assert.equal(classify(() => decryptAuthEnveloped(sealedEcc.subarray(0, n), key)), 'malformed', `cut at ${n}`);
});

test(`verifySignedData with ECDSA: ${ROUNDS} mutated inputs, seed ${SEED + 5}`, (t) => {
  const rnd = prng(SEED + 5);
  const outcomes: string[] = [];
  for (let i = 0; i < ROUNDS; i++) outcomes.push(classify(() => verifySignedData(mutate(signedEcc, rnd), { trustAnchors: [pki.ca.certDer] })));
  t.diagnostic(tally(outcomes));
});

test('every truncation of both messages is malformed', () => {
  const key = { certDer: pki.recipient.certDer, privateKey: pki.recipient.pkcs8 };
  for (let n = 0; n < signed.length; n++) assert.equal(classify(() => verifySignedData(signed.subarray(0, n), { trustAnchors: [] })), 'malformed', `SignedData cut at ${n}`);
  for (let n = 0; n < sealed.length; n++) assert.equal(classify(() => decryptAuthEnveloped(sealed.subarray(0, n), key)), 'malformed', `AuthEnvelopedData cut at ${n}`);
});

test('random bytes and deep nesting are malformed', () => {
  const rnd = prng(SEED + 2);
  const key = { certDer: pki.recipient.certDer, privateKey: pki.recipient.pkcs8 };
  for (let i = 0; i < 500; i++) {
    const junk = Uint8Array.from({ length: 1 + Math.floor(rnd() * 300) }, () => Math.floor(rnd() * 256));
    if (i % 2) junk[0] = 0x30; // look like a SEQUENCE to get past the first byte
    classify(() => verifySignedData(junk, { trustAnchors: [] }));
    classify(() => decryptAuthEnveloped(junk, key));
  }
  // 10 000 nested indefinite-length SEQUENCEs: refused by the depth limit, not the stack.
  const deep = Buffer.alloc(20_000);
  for (let i = 0; i < 10_000; i++) deep.writeUInt16BE(0x3080, i * 2);
  assert.equal(classify(() => verifySignedData(deep, { trustAnchors: [] })), 'malformed');
});

test(`decodeRecipientEmails: ${ROUNDS} mutated inputs`, (t) => {
  const rnd = prng(SEED + 3);
  const valid = encodeRecipientEmails([pki.recipient, pki.signer].map((i) => ({ email: i.email, rid: recipientIdOf(i.certDer) })));
  const outcomes: string[] = [];
  for (let i = 0; i < ROUNDS; i++) outcomes.push(classify(() => decodeRecipientEmails(mutate(valid, rnd))));
  t.diagnostic(tally(outcomes));
});
