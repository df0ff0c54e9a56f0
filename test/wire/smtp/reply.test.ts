import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { SmtpReplyReader, SmtpReplyError, formatSmtpReply, splitEnhancedStatus, type SmtpClientReply } from '../../../src/wire/smtp/index.js';
import { prng } from '../../helpers/prng.js';
import { thrown } from '../../helpers/assert.js';

/** Every reply in `text`, fed in pieces of `step` characters. */
function readAll(text: string, step = text.length || 1, limits = {}): SmtpClientReply[] {
  const r = new SmtpReplyReader(limits);
  const out: SmtpClientReply[] = [];
  for (let i = 0; i < text.length; i += step) {
    r.push(text.slice(i, i + step));
    for (let reply = r.next(); reply; reply = r.next()) out.push(reply);
  }
  return out;
}

const problemOf = (text: string, limits = {}): string => thrown(SmtpReplyError, () => readAll(text, text.length, limits)).reason;

describe('SmtpReplyReader', () => {
  test('single and multi-line replies, CRLF or bare LF, text kept as sent', () => {
    const replies = readAll('220 mx.test ESMTP\r\n250-mx.test\r\n250-PIPELINING\r\n250 AUTH PLAIN LOGIN\r\n354\n250 2.0.0 Ok: queued as 1\r\n');
    assert.deepEqual(replies, [
      { code: 220, lines: ['mx.test ESMTP'] },
      { code: 250, lines: ['mx.test', 'PIPELINING', 'AUTH PLAIN LOGIN'] },
      { code: 354, lines: [''] },
      { code: 250, lines: ['2.0.0 Ok: queued as 1'] },
    ]);
  });

  test('the same replies at every chunk boundary', () => {
    const text = '250-a\r\n250-b\r\n250 c\r\n550 5.1.1 no such user\r\n421 bye\r\n';
    const whole = readAll(text);
    for (let step = 1; step <= text.length; step++) assert.deepEqual(readAll(text, step), whole, `step ${step}`);
  });

  test('holding: a partial line or a partial multi-line reply is held, nothing else', () => {
    const r = new SmtpReplyReader();
    assert.equal(r.holding, false);
    r.push('220 go ahead\r\n');
    assert.deepEqual(r.next(), { code: 220, lines: ['go ahead'] });
    assert.equal(r.holding, false);
    r.push('250-first\r\n');
    assert.equal(r.next(), null);
    assert.equal(r.holding, true, 'half of a multi-line reply');
    r.push('250 last\r\n2');
    assert.deepEqual(r.next(), { code: 250, lines: ['first', 'last'] });
    assert.equal(r.next(), null);
    assert.equal(r.holding, true, 'one byte of the next line');
  });

  test('malformed lines are refused', () => {
    for (const bad of ['HTTP/1.1 400 Bad Request\r\n', '25 short\r\n', '2500 long code\r\n', '250_x\r\n', ' 250 x\r\n', '\r\n', '250-one\r\n251 two\r\n', '250-one\r\n550 two\r\n']) {
      assert.equal(problemOf(bad), 'malformed', JSON.stringify(bad));
    }
    assert.ok(new SmtpReplyError('malformed', 'x') instanceof Error);
  });

  test('bounds: line length with and without line end, number of lines', () => {
    assert.equal(problemOf('220 ' + 'x'.repeat(5000)), 'line-too-long', 'no line end at all');
    assert.equal(problemOf('220 ' + 'x'.repeat(5000) + '\r\n'), 'malformed', 'a whole line over the limit');
    assert.equal(readAll('220 ' + 'x'.repeat(4092) + '\r\n').length, 1, '4096 characters are fine');
    assert.equal(problemOf('250-x\r\n'.repeat(200)), 'too-many-lines');
    assert.equal(readAll('250-x\r\n'.repeat(99) + '250 x\r\n')[0]!.lines.length, 100);
    assert.equal(problemOf('250-x\r\n250-x\r\n250 x\r\n', { maxLines: 2 }), 'too-many-lines');
    assert.equal(problemOf('220 12345\r\n', { maxLineLength: 8 }), 'malformed');
  });

  test('the error text quotes at most a short excerpt', () => {
    try {
      readAll('X'.repeat(3000) + '\r\n');
      assert.fail('expected an error');
    } catch (err) {
      assert.ok(err instanceof SmtpReplyError);
      assert.ok(err.message.length < 120, err.message);
    }
  });

  test('fuzz: replies or SmtpReplyError, nothing else, whatever the chunking', () => {
    const rnd = prng(0x5e7a);
    const int = (n: number) => Math.floor(rnd() * n);
    const junk = ['250', '-', ' ', '\r\n', '\n', '\r', 'x', '5.1.1', '\0', 'ü', '2'];
    let replies = 0;
    let refused = 0;
    for (let round = 0; round < 2000; round++) {
      // Mostly well-formed replies (one to six lines), now and then a mutated or junk line.
      let text = '';
      for (let k = 1 + int(4); k > 0; k--) {
        const code = String(200 + int(400));
        const n = 1 + int(6);
        for (let i = 0; i < n; i++) text += rnd() < 0.03 ? junk[int(junk.length)]!.repeat(1 + int(80)) : `${code}${i < n - 1 ? '-' : ' '}${'t'.repeat(int(70))}\r\n`;
      }
      const r = new SmtpReplyReader({ maxLineLength: 64, maxLines: 5 });
      try {
        for (let pos = 0; pos < text.length; ) {
          const step = 1 + int(40);
          r.push(text.slice(pos, pos + step));
          pos += step;
          for (let reply = r.next(); reply; reply = r.next()) {
            assert.ok(reply.code >= 200 && reply.code < 600 && reply.lines.length >= 1 && reply.lines.length <= 5);
            assert.ok(reply.lines.every((l) => l.length <= 60 && !l.includes('\n')));
            replies++;
          }
        }
      } catch (err) {
        assert.ok(err instanceof SmtpReplyError, String(err));
        refused++;
      }
    }
    assert.ok(replies > 500 && refused > 200, `replies ${replies}, refused ${refused}`);
  });
});

describe('formatSmtpReply and splitEnhancedStatus', () => {
  test('one line for logs and for passing on', () => {
    assert.equal(formatSmtpReply({ code: 250, lines: ['2.0.0 Ok', 'queued'] }), '250 2.0.0 Ok queued');
    assert.equal(formatSmtpReply({ code: 354, lines: [''] }), '354');
  });

  test('the enhanced code when it is of the reply class; the text after it', () => {
    assert.deepEqual(splitEnhancedStatus({ code: 550, lines: ['5.1.1 no such user', 'sorry'] }), { status: '5.1.1', text: 'no such user sorry' });
    assert.deepEqual(splitEnhancedStatus({ code: 451, lines: ['4.7.0 try later'] }), { status: '4.7.0', text: 'try later' });
    assert.deepEqual(splitEnhancedStatus({ code: 250, lines: ['2.0.0'] }), { status: '2.0.0', text: '' });
    assert.deepEqual(splitEnhancedStatus({ code: 552, lines: ['5.3.4 too big'] }), { status: '5.3.4', text: 'too big' });
  });

  test('none, another class, or not a code: no status, the whole text', () => {
    assert.deepEqual(splitEnhancedStatus({ code: 550, lines: ['no such user'] }), { status: undefined, text: 'no such user' });
    assert.deepEqual(splitEnhancedStatus({ code: 550, lines: ['4.1.1 wrong class'] }), { status: undefined, text: '4.1.1 wrong class' });
    assert.deepEqual(splitEnhancedStatus({ code: 550, lines: ['5.1.1234 too many digits'] }), { status: undefined, text: '5.1.1234 too many digits' });
    assert.deepEqual(splitEnhancedStatus({ code: 550, lines: ['5.1 short'] }), { status: undefined, text: '5.1 short' });
    assert.deepEqual(splitEnhancedStatus({ code: 550, lines: ['x 5.1.1 later'] }), { status: undefined, text: 'x 5.1.1 later' });
  });
});
