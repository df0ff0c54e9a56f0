import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mime } from '../../../src/wire/index.js';
import { prng } from '../../helpers/prng.js';

// Content-Type and Content-Disposition values (RFC 2045 5.1): what the KOM-LE layer reads from
// them is the media type, the multipart boundary, charset and smime-type, and `attachment`.

const ct = mime.parseContentType;
const params = mime.parseParams;

describe('wire/mime parseContentType', () => {
  test('type/subtype lower-cased, parameter names lower-cased, values as written', () => {
    assert.deepEqual(ct('Multipart/Mixed; Boundary="=_Abc 1"'), { mediaType: 'multipart/mixed', params: { boundary: '=_Abc 1' } });
    assert.deepEqual(ct('application/pkcs7-mime; smime-type=authEnveloped-data; name=smime.p7m'), {
      mediaType: 'application/pkcs7-mime',
      params: { 'smime-type': 'authEnveloped-data', name: 'smime.p7m' },
    });
    assert.deepEqual(ct('  text/plain  ;charset = utf-8 '), { mediaType: 'text/plain', params: { charset: 'utf-8' } }, 'white space around = and ;');
  });

  test('missing or empty: text/plain with no parameters (RFC 2045 5.2)', () => {
    assert.deepEqual(ct(undefined), { mediaType: 'text/plain', params: {} });
    assert.deepEqual(ct(''), { mediaType: 'text/plain', params: {} });
    assert.deepEqual(ct(' \t '), { mediaType: 'text/plain', params: {} });
  });

  test('Content-Disposition reads the same way', () => {
    assert.deepEqual(ct('Attachment; filename="Befund 1.pdf"'), { mediaType: 'attachment', params: { filename: 'Befund 1.pdf' } });
    assert.deepEqual(ct('inline'), { mediaType: 'inline', params: {} });
  });

  test('an odd media type is returned as written (lower case), not judged: the caller compares it', () => {
    assert.equal(ct('text').mediaType, 'text');
    assert.equal(ct('TEXT/PLAIN (comment)').mediaType, 'text/plain (comment)');
    assert.deepEqual(ct('; charset=x'), { mediaType: '', params: { charset: 'x' } }, 'parameters without a type');
  });

  test('a value unfolded by readHeaderBlock (folded between parameters) parses as one', () => {
    const { fields } = mime.readHeaderBlock(Buffer.from('Content-Type: multipart/signed;\r\n\tprotocol="application/pkcs7-signature";\r\n micalg=sha-256;\r\n boundary="b1"\r\n\r\n'));
    assert.deepEqual(ct(fields[0]!.value), { mediaType: 'multipart/signed', params: { protocol: 'application/pkcs7-signature', micalg: 'sha-256', boundary: 'b1' } });
  });
});

describe('wire/mime parseParams', () => {
  test('quoted strings: ; = and spaces inside, backslash escapes (RFC 5322 quoted-pair), an empty value', () => {
    assert.deepEqual(params('a="x;y=z"; b="with \\"quotes\\" and \\\\"; c=""'), { a: 'x;y=z', b: 'with "quotes" and \\', c: '' });
    assert.deepEqual(params('a="\\x\\y"'), { a: 'xy' }, 'a backslash quotes any character');
  });

  test('an unterminated quoted string runs to the end', () => {
    assert.deepEqual(params('a=b; c="open; d=e'), { a: 'b', c: 'open; d=e' });
    assert.deepEqual(params('a="trailing backslash\\'), { a: 'trailing backslash\\' }, 'a final backslash is kept');
  });

  test('token values: RFC 2045 token characters; an empty value at the end', () => {
    assert.deepEqual(params("a=!#$%&'*+-.^_`|~09AZaz"), { a: "!#$%&'*+-.^_`|~09AZaz" });
    assert.deepEqual(params('a='), { a: '' });
    assert.deepEqual(params('a=; b=2'), { a: '', b: '2' });
  });

  test('the first of repeated names counts, whatever the case', () => {
    assert.deepEqual(params('Boundary=one; boundary=two; BOUNDARY=three'), { boundary: 'one' });
  });

  test('a comment after a value (RFC 2045 5.1 example) does not spoil it', () => {
    assert.deepEqual(params('charset=us-ascii (Plain text)'), { charset: 'us-ascii' });
    assert.deepEqual(params('charset=us-ascii(Plain text); format=flowed'), { charset: 'us-ascii', format: 'flowed' });
  });

  test('malformed parameters are skipped up to the next `;`, and those after them still read', () => {
    // These used to end the parse, so a boundary after a broken parameter was lost.
    assert.deepEqual(params('a=b; @=x; boundary=c'), { a: 'b', boundary: 'c' });
    assert.deepEqual(params('x=@; boundary=c'), { boundary: 'c' }, 'a value that is no token and not quoted');
    assert.deepEqual(params('x=b@c; boundary=d'), { boundary: 'd' }, 'junk after a token value');
    assert.deepEqual(params('x="q"junk; boundary=d'), { x: 'q', boundary: 'd' }, 'a quoted value ends at its quote');
    assert.deepEqual(params('name-only; boundary=d'), { boundary: 'd' }, 'a name without =');
    assert.deepEqual(params('a b=c'), { b: 'c' }, 'a name without = before another');
    assert.deepEqual(params('=x; ==; ;;; boundary=e'), { boundary: 'e' });
    assert.deepEqual(params('boundary==_part_1'), {}, 'an unquoted boundary with `=` is malformed (RFC 2045 tspecials): skipped');
    assert.deepEqual(params('@@@'), {});
    assert.deepEqual(params(''), {});
  });

  test('RFC 2231 extended parameters are not decoded or joined: each comes back raw under its own name', () => {
    assert.deepEqual(params("filename*=utf-8''Befund%20%C3%A4.pdf"), { 'filename*': "utf-8''Befund%20%C3%A4.pdf" });
    assert.deepEqual(params('name*0="a"; name*1="b"'), { 'name*0': 'a', 'name*1': 'b' });
  });

  test('parameter names that Object.prototype has are ordinary parameters; __proto__ changes no prototype', () => {
    const p = params('constructor=x; toString=y; __proto__=z; hasOwnProperty=w');
    assert.equal(Object.getPrototypeOf(p), Object.prototype);
    assert.deepEqual(Object.keys(p), ['constructor', 'tostring', '__proto__', 'hasownproperty']);
    assert.equal(p['constructor'], 'x');
    assert.equal(p['__proto__'], 'z');
    assert.equal(params('boundary=b')['constructor'], Object, 'absent names stay absent as own properties');
    assert.equal(Object.hasOwn(params('boundary=b'), 'constructor'), false);
  });

  test('whatever the text: an object of strings, never an exception', () => {
    const rnd = prng(2045);
    const alphabet = ['a', 'B', '=', ';', '"', '\\', ' ', '\t', '(', '@', '*', '\r\n', 'ü'];
    for (let i = 0; i < 5000; i++) {
      let s = '';
      const len = Math.floor(rnd() * 30);
      for (let j = 0; j < len; j++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      const p = params(s);
      for (const [k, v] of Object.entries(p)) {
        assert.match(k, /^[!#$%&'*+\-.^_`|~0-9a-z]+$/, `case ${i} ${JSON.stringify(s)}: names are lower-case tokens`);
        assert.equal(typeof v, 'string');
      }
      assert.equal(typeof ct(s).mediaType, 'string');
    }
  });

  test('long values are one pass: a megabyte of parameters, of a quoted string, of junk', { timeout: 20_000 }, () => {
    // A rescan of the rest per parameter would be ~10^11 steps on these and not finish.
    const many = params('a=b; '.repeat(200_000) + 'boundary=z');
    assert.deepEqual(many, { a: 'b', boundary: 'z' });
    assert.equal(params(`a="${'x'.repeat(1_000_000)}"`)['a']!.length, 1_000_000);
    assert.deepEqual(params('@;'.repeat(500_000) + 'boundary=z'), { boundary: 'z' });
    assert.deepEqual(params('n '.repeat(500_000) + 'boundary=z'), { boundary: 'z' });
    assert.deepEqual(params('x=b@ '.repeat(250_000) + '; boundary=z'), { boundary: 'z' });
    assert.equal(ct('multipart/mixed; ' + 'p=v; '.repeat(200_000)).mediaType, 'multipart/mixed');
  });
});
