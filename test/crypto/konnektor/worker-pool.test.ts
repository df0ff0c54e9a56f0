import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { configSchema } from '../../../src/config/index.js';
import { CmsError, KonnektorError, SoftwareKonnektor, createKonnektor, openMessage, sealMessage } from '../../../src/crypto/index.js';
import { CTX_A, CTX_B, createKomleWorld, mandanten, psMessage, type KomleWorld } from '../../helpers/komle.js';
import { emailsFor, recipientsFor } from '../../helpers/pki.js';

// The software Konnektor with `workers`: signing and encryption in worker threads. The results
// must be what the in-thread Konnektor makes (they open and verify), errors keep their types
// and codes, the caller's buffers stay intact unless handed over, and close() ends it.

let w: KomleWorld;
let pooled: SoftwareKonnektor;

before(async () => {
  w = await createKomleWorld();
  pooled = new SoftwareKonnektor({ trustAnchors: [w.pki.ca.certDer], mandanten: mandanten(w.pki, w.senderEnc), workers: 2 });
});

after(async () => {
  await pooled?.close();
});

describe('software Konnektor with worker threads', () => {
  test('sealed through the workers, opened in-thread: decrypts and every check passes', async () => {
    const ps = psMessage([w.pki.recipient.email], 'x'.repeat(150_000) + '\r\n');
    const sealed = await sealMessage(ps, { konnektor: pooled, context: CTX_A, senderEmail: w.pki.signer.email, recipients: recipientsFor(w.pki.recipient) });
    const opened = await openMessage(sealed.message, { konnektor: w.konnektor, context: CTX_B });
    assert.equal(opened.ok, true, JSON.stringify(opened.checks.filter((c) => !c.ok)));
    assert.ok(Buffer.from(opened.inner!).includes(Buffer.from('x'.repeat(1000))));
  });

  test('many at once over both workers, and in-thread ones in between: all open', async () => {
    const ps = psMessage([w.pki.recipient.email]);
    const all = await Promise.all(
      Array.from({ length: 40 }, (_, i) =>
        sealMessage(ps, { konnektor: i % 5 === 0 ? w.konnektor : pooled, context: CTX_A, senderEmail: w.pki.signer.email, recipients: recipientsFor(w.pki.recipient) }),
      ),
    );
    for (const s of all) assert.equal((await openMessage(s.message, { konnektor: pooled, context: CTX_B })).ok, true);
  });

  test('the caller keeps its content unless it hands it over', async () => {
    const content = Buffer.from('Content-Type: text/plain\r\n\r\n' + 'y'.repeat(10_000));
    const copy = Buffer.from(content);
    const emails = emailsFor(w.pki.recipient);
    const signed = await pooled.signDocument(CTX_A, { content, recipientEmails: emails });
    assert.ok(content.equals(copy), 'not handed over: untouched');
    const verified = await w.konnektor.verifyDocument(CTX_A, { document: signed });
    assert.ok(Buffer.from(verified.content).equals(copy));
    const envelope = await pooled.encryptDocument(CTX_A, { content, recipients: recipientsFor(w.pki.recipient) });
    assert.ok(content.equals(copy));
    // Buffer.alloc never takes from the shared pool, so this one owns its memory on every Node
    // (Buffer.from of 10 KB is a pool view on Node 24, whose pool is 64 KB).
    const handed = Buffer.alloc(copy.length);
    copy.copy(handed);
    await pooled.encryptDocument(CTX_A, { content: handed, recipients: recipientsFor(w.pki.recipient), handOver: true });
    assert.equal(handed.length, 0, 'handed over: its memory went to the worker');
    const opened = await w.konnektor.decryptDocument(CTX_B, { document: envelope });
    assert.ok(Buffer.from(opened.content).equals(copy));
  });

  test('a small or shared buffer is copied even when handed over (never a pool slab)', async () => {
    const small = Buffer.from('Content-Type: text/plain\r\n\r\nshort'); // from Buffer's shared pool
    const neighbour = Buffer.from('neighbour on the same slab');
    await pooled.encryptDocument(CTX_A, { content: small, recipients: recipientsFor(w.pki.recipient), handOver: true });
    assert.equal(small.toString().endsWith('short'), true);
    assert.equal(neighbour.toString(), 'neighbour on the same slab');
    const big = Buffer.alloc(64 * 1024, 0x61);
    const view = big.subarray(10, 20_000);
    await pooled.encryptDocument(CTX_A, { content: view, recipients: recipientsFor(w.pki.recipient), handOver: true });
    assert.equal(big.length, 64 * 1024, 'a view into a larger buffer is copied');
  });

  test('errors keep their types: context checks in the caller, CMS refusals with their code', async () => {
    await assert.rejects(pooled.signDocument({ ...CTX_A, workplaceId: '9' }, { content: new Uint8Array(10), recipientEmails: [] }), (e: unknown) => e instanceof KonnektorError && e.code === 'unknown-workplace');
    await assert.rejects(
      pooled.encryptDocument(CTX_A, { content: new Uint8Array(10), recipients: [{ certDer: new Uint8Array([0x30, 0x03, 0x02, 0x01, 0x01]), email: 'x@y.test' }] }),
      (e: unknown) => e instanceof CmsError && e.code === 'invalid-input',
    );
    await assert.rejects(pooled.encryptDocument(CTX_A, { content: new Uint8Array(10), recipients: [{ certDer: w.pki.recipient.certDer, email: 'bad address@@' }] }), (e: unknown) => e instanceof CmsError);
    // The pool is still good after refusals.
    const ok = await pooled.encryptDocument(CTX_A, { content: new Uint8Array(10), recipients: recipientsFor(w.pki.recipient) });
    assert.ok(ok.length > 100);
  });

  test('close(): later signing fails as unavailable; a Konnektor without workers has nothing to close', async () => {
    const k = new SoftwareKonnektor({ trustAnchors: [w.pki.ca.certDer], mandanten: mandanten(w.pki, w.senderEnc), workers: 1 });
    const emails = emailsFor(w.pki.recipient);
    assert.ok((await k.signDocument(CTX_A, { content: new Uint8Array(100), recipientEmails: emails })).length > 100);
    await k.close();
    await assert.rejects(k.signDocument(CTX_A, { content: new Uint8Array(100), recipientEmails: emails }), (e: unknown) => e instanceof KonnektorError && e.code === 'unavailable');
    await w.konnektor.close();
    assert.ok((await w.konnektor.signDocument(CTX_A, { content: new Uint8Array(100), recipientEmails: emails })).length > 100);
  });

  test('configuration: konnektor.workers defaults to 1, 0 signs in the calling thread, negative refused', async () => {
    assert.equal(configSchema.parse({}).konnektor.workers, 1);
    assert.equal(configSchema.parse({ konnektor: { workers: 0 } }).konnektor.workers, 0);
    assert.throws(() => configSchema.parse({ konnektor: { workers: -1 } }));
    assert.throws(() => configSchema.parse({ konnektor: { workers: 1.5 } }));
    const k = createKonnektor(configSchema.parse({ konnektor: { workers: 0 } }).konnektor, '/nonexistent');
    assert.ok(k instanceof SoftwareKonnektor);
    await k.close?.();
  });
});
