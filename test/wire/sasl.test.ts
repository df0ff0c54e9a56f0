import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { decodeSaslPlain, encodeSaslPlain, encodeSaslLogin, parseSaslResponse, SaslError } from '../../src/wire/index.js';
import { prng } from '../helpers/prng.js';
import { thrown } from '../helpers/assert.js';

const reasonOf = (fn: () => unknown): string => thrown(SaslError, fn).reason;

describe('SASL PLAIN', () => {
  test('round trip with and without authzid, UTF-8 passwords', () => {
    assert.deepEqual(decodeSaslPlain(encodeSaslPlain({ authcid: 'alice', password: 'pässwört 1' })), {
      authzid: '',
      authcid: 'alice',
      password: 'pässwört 1',
    });
    assert.deepEqual(decodeSaslPlain(encodeSaslPlain({ authzid: 'boss', authcid: 'alice', password: 'pw' })), {
      authzid: 'boss',
      authcid: 'alice',
      password: 'pw',
    });
  });

  test('the encoding is RFC 4616 byte for byte (what other implementations send)', () => {
    // RFC 4616 section 4's example: authzid absent, "tim" / "tanstaaftanstaaf".
    assert.equal(encodeSaslPlain({ authcid: 'tim', password: 'tanstaaftanstaaf' }), Buffer.from('\0tim\0tanstaaftanstaaf').toString('base64'));
    assert.equal(encodeSaslPlain({ authzid: 'Ursel', authcid: 'Kurt', password: 'xipj3plmq' }), 'VXJzZWwAS3VydAB4aXBqM3BsbXE=');
  });

  test('malformed input is refused', () => {
    const enc = (s: string | Buffer): string => (typeof s === 'string' ? Buffer.from(s) : s).toString('base64');
    const cases: [string, string][] = [
      ['', 'bad-base64'],
      [enc('\0alice'), 'bad-sasl'],
      ['AGFsaWNlAHB3=', 'bad-base64'],
      ['AGFs aWNl', 'bad-base64'],
      ['!!!!', 'bad-base64'],
      [enc('alice\0pw'), 'bad-sasl'],
      [enc('a\0b\0c\0d'), 'bad-sasl'],
      [enc('\0\0pw'), 'bad-sasl'],
      [enc('\0alice\0'), 'bad-sasl'],
      [enc(`\0${'a'.repeat(256)}\0pw`), 'bad-sasl'],
      [enc(`${'z'.repeat(256)}\0alice\0pw`), 'bad-sasl'],
      [enc(`\0alice\0${'p'.repeat(256)}`), 'bad-sasl'],
      [enc(Buffer.from([0, 0xff, 0, 0x41])), 'bad-sasl'],
    ];
    for (const [input, reason] of cases) assert.equal(reasonOf(() => decodeSaslPlain(input)), reason, input);
    // 255 octets per field is allowed (RFC 4616 section 2).
    assert.equal(decodeSaslPlain(enc(`\0${'a'.repeat(255)}\0pw`)).authcid.length, 255);
  });

  test('a NUL inside a field is refused when encoding (it would shift the fields)', () => {
    assert.equal(reasonOf(() => encodeSaslPlain({ authcid: 'alice\0bob', password: 'pw' })), 'bad-sasl');
    assert.equal(reasonOf(() => encodeSaslPlain({ authcid: 'alice', password: 'p\0w' })), 'bad-sasl');
    assert.equal(reasonOf(() => encodeSaslPlain({ authzid: '\0', authcid: 'alice', password: 'pw' })), 'bad-sasl');
  });

  test('error messages echo nothing of the input', () => {
    const secret = Buffer.from('\0alice\0').toString('base64');
    try {
      decodeSaslPlain(secret);
      assert.fail('expected a SaslError');
    } catch (err) {
      assert.ok(err instanceof SaslError);
      assert.ok(!err.message.includes(secret) && !err.message.includes('alice'), err.message);
    }
  });

  test('fuzz: random base64 decodes or is refused with SaslError, never anything else', () => {
    const rnd = prng(0x5a51);
    let ok = 0;
    let refused = 0;
    for (let i = 0; i < 5000; i++) {
      // Three fields joined by NUL, each now and then empty, too long, with a NUL or bad UTF-8 inside.
      const field = () => {
        const r = rnd();
        if (r < 0.1) return Buffer.alloc(0);
        if (r < 0.15) return Buffer.alloc(256, 0x61);
        return Buffer.from(Array.from({ length: 1 + Math.floor(rnd() * 12) }, () => (rnd() < 0.03 ? 0 : rnd() < 0.05 ? 0xff : 0x20 + Math.floor(rnd() * 95))));
      };
      const bytes = Buffer.concat([field(), Buffer.from([0]), field(), Buffer.from([0]), field()]);
      try {
        const c = decodeSaslPlain(bytes.toString('base64'));
        assert.deepEqual(decodeSaslPlain(encodeSaslPlain(c)), c, 'what decodes re-encodes to the same credentials');
        ok++;
      } catch (err) {
        assert.ok(err instanceof SaslError, String(err));
        refused++;
      }
    }
    assert.ok(ok > 100 && refused > 100, `ok ${ok}, refused ${refused}`);
  });
});

describe('SASL LOGIN and continuation lines', () => {
  test('LOGIN answers are the UTF-8 text in base64', () => {
    assert.equal(encodeSaslLogin('u'), 'dQ==');
    assert.equal(Buffer.from(encodeSaslLogin('pässwört'), 'base64').toString('utf8'), 'pässwört');
  });

  test('* cancels, anything else must be base64', () => {
    assert.deepEqual(parseSaslResponse('*'), { cancel: true });
    assert.deepEqual(parseSaslResponse('AGEAYg=='), { cancel: false, base64: 'AGEAYg==' });
    assert.deepEqual(parseSaslResponse(''), { cancel: false, base64: '' }, 'an empty response is base64 of nothing');
    for (const bad of ['** ', ' AGEAYg==', 'AGEAYg==\r', 'AGEAY', 'AGEAYg=x']) assert.equal(reasonOf(() => parseSaslResponse(bad)), 'bad-base64', bad);
  });
});
