import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { mime } from '../../../src/wire/index.js';

// The base64 codec works in chunks for speed; these tests hold it to the plain one-string
// results (node's codec over the whole body), including for damaged and irregular bodies.

function plainLines(data: Uint8Array, prefix: string, width: number, eol = '\r\n'): Buffer {
  const flat = Buffer.from(data).toString('base64');
  let text = prefix;
  for (let i = 0; i < flat.length; i += width) text += flat.slice(i, i + width) + eol;
  return Buffer.from(text, 'latin1');
}

const plainDecode = (body: Uint8Array): Buffer | undefined => {
  const out = Buffer.from(Buffer.from(body).toString('latin1'), 'base64');
  return out.length > 0 ? out : undefined;
};

// Sizes around the chunk size (256 lines of 57 bytes) and the fast-path threshold.
const SIZES = [0, 1, 2, 3, 56, 57, 58, 1000, 57 * 256 - 1, 57 * 256, 57 * 256 + 1, 57 * 512 + 2, 100 * 1024, 140_001, 300_000];

describe('wire/mime base64', () => {
  it('encodes like node over the whole body, with CRLF every 76 (and 64) characters', () => {
    for (const size of SIZES) {
      const data = randomBytes(size);
      assert.deepEqual(mime.encodeBase64Lines(data, 'X: y\r\n\r\n'), plainLines(data, 'X: y\r\n\r\n', 76), `size ${size}`);
      assert.deepEqual(mime.encodeBase64Lines(data, '', 64), plainLines(data, '', 64), `size ${size}, width 64`);
      assert.deepEqual(mime.encodeBase64Lines(data, '', 75), plainLines(data, '', 75), `size ${size}, width 75`);
    }
  });

  it('encodes a view into a larger buffer without reading outside it', () => {
    const big = randomBytes(50_000);
    const view = big.subarray(123, 40_123);
    assert.deepEqual(mime.encodeBase64Lines(view), plainLines(view, '', 76));
  });

  it('decodes CRLF and LF bodies of 76 and 64 character lines back to the data', () => {
    for (const size of SIZES) {
      const data = randomBytes(size);
      for (const [width, eol] of [[76, '\r\n'], [64, '\n'], [64, '\r\n'], [76, '\n']] as const) {
        const body = plainLines(data, '', width, eol);
        assert.deepEqual(mime.decodeBase64Body(body) ?? Buffer.alloc(0), data, `size ${size}, width ${width}, ${JSON.stringify(eol)}`);
      }
    }
  });

  it('decodes damaged and irregular bodies exactly as node decodes the whole body', () => {
    const data = randomBytes(200_000);
    const clean = plainLines(data, '', 76);
    const cases: Array<[string, Buffer]> = [];
    for (const at of [0, 77, 5_000, 19_967, 19_968, 19_969, 100_000, clean.length - 5]) {
      for (const ch of ['!', '=', ' ', '\n', '-']) {
        const damaged = Buffer.from(clean);
        damaged[at] = ch.charCodeAt(0);
        cases.push([`${JSON.stringify(ch)} at ${at}`, damaged]);
      }
      cases.push([`byte removed at ${at}`, Buffer.concat([clean.subarray(0, at), clean.subarray(at + 1)])]);
      cases.push([`byte inserted at ${at}`, Buffer.concat([clean.subarray(0, at), Buffer.from('A'), clean.subarray(at)])]);
    }
    cases.push(['lines of 75', plainLines(data, '', 75)]);
    cases.push(['lines of 4 with spaces', Buffer.from(Buffer.from(data).toString('base64').replace(/(.{4})/g, '$1 \r\n'), 'latin1')]);
    cases.push(['no line breaks', Buffer.from(Buffer.from(data).toString('base64'), 'latin1')]);
    cases.push(['garbage', randomBytes(100_000)]);
    for (const [name, body] of cases) assert.deepEqual(mime.decodeBase64Body(body), plainDecode(body), name);
  });

  it('returns undefined when nothing decodes', () => {
    assert.equal(mime.decodeBase64Body(Buffer.from('\r\n\r\n!!!!\r\n')), undefined);
    assert.equal(mime.decodeBase64Body(Buffer.alloc(0)), undefined);
  });
});
