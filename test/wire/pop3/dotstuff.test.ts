import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { pop3 } from '../../../src/wire/index.js';

const { DotStuffer, dotStuff, dotUnstuff } = pop3;

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

describe('dot-stuffing', () => {
  const body = Buffer.concat([b('.a\r\nb\r\n..c\r\n.\r\n'), Buffer.from([0xff, 0x00, 0x2e, 0x0d, 0x0a]), b('.end')]);
  const expected = Buffer.concat([b('..a\r\nb\r\n...c\r\n..\r\n'), Buffer.from([0xff, 0x00, 0x2e, 0x0d, 0x0a]), b('..end\r\n.\r\n')]);

  test('dots at line starts are doubled, nothing else changes, the terminator is added', () => {
    assert.ok(dotStuff(body).equals(expected));
    assert.equal(dotStuff(b('')).toString(), '.\r\n');
    assert.equal(dotStuff(b('x\r\n')).toString(), 'x\r\n.\r\n');
  });

  test('the same result whatever the chunking', () => {
    for (let cut1 = 0; cut1 <= body.length; cut1++) {
      for (let cut2 = cut1; cut2 <= body.length; cut2 += 3) {
        const s = new DotStuffer();
        const out = Buffer.concat([s.push(body.subarray(0, cut1)), s.push(body.subarray(cut1, cut2)), s.push(body.subarray(cut2)), s.finish()]);
        assert.ok(out.equals(expected), `cuts ${cut1}/${cut2}: ${JSON.stringify(out.toString('latin1'))}`);
      }
    }
  });
});

describe('dotUnstuff', () => {
  test('the inverse of DotStuffer, bare LF line starts included; untouched bodies are not copied', () => {
    for (const s of ['', 'plain\r\n', '.a\r\n..b\r\nc.\r\n', 'x\n.y\n', '.\r\n']) {
      const body = b(s);
      const stuffed = dotStuff(body);
      assert.equal(dotUnstuff(stuffed.subarray(0, stuffed.length - 3)).toString('latin1'), s, JSON.stringify(s));
    }
    const plain = b('no dots here\r\n');
    assert.equal(dotUnstuff(plain), plain);
  });
});
