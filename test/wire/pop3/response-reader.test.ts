import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { pop3 } from '../../../src/wire/index.js';
import { prng } from '../../helpers/prng.js';
import { thrown } from '../../helpers/assert.js';

const { Pop3ResponseReader, Pop3ResponseError, dotStuff, okLine, errLine } = pop3;
const b = (s: string): Buffer => Buffer.from(s, 'latin1');

/** Feeds `wire` in pieces of `step` bytes, expecting responses of the given kinds in turn. */
function readAll(wire: Buffer, expect: boolean[], step = wire.length || 1, maxResponseSize = 1 << 20): pop3.Pop3Response[] {
  const r = new Pop3ResponseReader({ maxResponseSize });
  const out: pop3.Pop3Response[] = [];
  for (let i = 0; i < wire.length; i += step) {
    r.push(wire.subarray(i, i + step));
    while (out.length < expect.length) {
      const next = r.next(expect[out.length]!);
      if (!next) break;
      out.push(next);
    }
  }
  return out;
}

const problemOf = (fn: () => unknown): string => thrown(Pop3ResponseError, fn).reason;

describe('Pop3ResponseReader', () => {
  test('status lines, -ERR with its text, multi-line bodies byte-exact and unstuffed', () => {
    const message = b('Subject: dots\r\n\r\n.one\r\n..two\r\n.\r\nGr\xfc\xdfe\r\n');
    const wire = Buffer.concat([b(okLine('hi')), b(errLine('no such message', 'SYS/PERM')), b('+OK message follows\r\n'), dotStuff(message), b('+OK\r\n.\r\n')]);
    const out = readAll(wire, [false, true, true, true]);
    assert.deepEqual(out[0], { ok: true, status: '+OK hi' });
    assert.deepEqual(out[1], { ok: false, status: '-ERR [SYS/PERM] no such message', text: '[SYS/PERM] no such message' });
    assert.equal(out[2]!.ok && out[2]!.status, '+OK message follows');
    assert.ok(out[2]!.ok && out[2]!.body!.equals(message), 'the message comes back byte for byte');
    assert.ok(out[3]!.ok && out[3]!.body!.length === 0, 'an empty body');
  });

  test('the same responses at every chunk boundary', () => {
    const wire = Buffer.concat([b('+OK 2 messages\r\n'), dotStuff(b('1 120\r\n2 .30\r\n')), b('-ERR nope\r\n'), b('+OK x\r\n'), dotStuff(b('.\r\n\r\n.\r\n'))]);
    const kinds = [true, true, true];
    const whole = readAll(wire, kinds);
    assert.equal(whole.length, 3);
    for (let step = 1; step <= wire.length; step++) assert.deepEqual(readAll(wire, kinds, step), whole, `step ${step}`);
  });

  test('malformed and oversized input', () => {
    const reader = (max = 1024) => new Pop3ResponseReader({ maxResponseSize: max });
    const feed = (bytes: string, multilineExpected: boolean, max?: number) => () => {
      const r = reader(max);
      r.push(b(bytes));
      return r.next(multilineExpected);
    };
    assert.equal(problemOf(feed('* nonsense\r\n', false)), 'not-a-status');
    assert.equal(problemOf(feed('OK\r\n', true)), 'not-a-status');
    assert.equal(problemOf(feed('+OK ' + 'x'.repeat(5000), false)), 'status-too-long');
    assert.equal(problemOf(feed('+OK here\r\n' + 'a'.repeat(2000), true)), 'too-large');
    assert.equal(feed('+OK here\r\n' + 'a'.repeat(500), true)(), null, 'incomplete but within the bound');
    const idle = reader();
    idle.push(b('x'.repeat(5000)));
    assert.equal(problemOf(() => idle.checkUnsolicited()), 'unsolicited');
    const quiet = reader();
    quiet.push(b('+OK late\r\n'));
    quiet.checkUnsolicited();
    assert.equal(quiet.buffered, 10);
  });

  test('a terminator split across pushes is found; only new bytes are searched', () => {
    const r = new Pop3ResponseReader({ maxResponseSize: 1 << 20 });
    r.push(b('+OK\r\nline\r'));
    assert.equal(r.next(true), null);
    r.push(b('\n.'));
    assert.equal(r.next(true), null);
    r.push(b('\r\n+OK next\r\n'));
    const first = r.next(true);
    assert.ok(first?.ok && first.body!.toString() === 'line\r\n');
    assert.deepEqual(r.next(false), { ok: true, status: '+OK next' });
    assert.equal(r.buffered, 0);
  });

  test('fuzz: stuffed random bodies come back exactly, whatever the chunking', () => {
    const rnd = prng(0x9093);
    const alphabet = [0x2e, 0x2e, 0x0d, 0x0a, 0x0a, 0x41, 0x00, 0xff];
    for (let round = 0; round < 500; round++) {
      let body = Buffer.from(Array.from({ length: Math.floor(rnd() * 200) }, () => (rnd() < 0.7 ? alphabet[Math.floor(rnd() * alphabet.length)]! : Math.floor(rnd() * 256))));
      // A body the stuffer can end cleanly: CRLF-terminated lines (the terminator needs "\r\n." ).
      body = Buffer.from(body.toString('latin1').replace(/\r?\n/g, '\r\n').replace(/\r(?!\n)/g, '') + '\r\n', 'latin1');
      const wire = Buffer.concat([b('+OK\r\n'), dotStuff(body)]);
      const out = readAll(wire, [true], 1 + Math.floor(rnd() * 30));
      assert.equal(out.length, 1);
      assert.ok(out[0]!.ok && out[0]!.body!.equals(body), JSON.stringify(body.toString('latin1')));
    }
  });
});

