import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { pop3, decodeSaslPlain, parseSaslResponse, SaslError } from '../../../src/wire/index.js';
import { prng } from '../../helpers/prng.js';
import { thrown } from '../../helpers/assert.js';

const { parseCommand, LineSplitter, dotStuff, dotUnstuff, Pop3SyntaxError } = pop3;

const b = (s: string): Buffer => Buffer.from(s, 'utf8');

const reasonOf = (fn: () => unknown): string => thrown(Pop3SyntaxError, fn).reason;

describe('parseCommand', () => {
  test('every command, case-insensitive, with its arguments', () => {
    assert.deepEqual(parseCommand(b('user alice@test.local')), { name: 'USER', user: 'alice@test.local' });
    assert.deepEqual(parseCommand(b('PASS  two  spaces ')), { name: 'PASS', password: ' two  spaces ' });
    assert.deepEqual(parseCommand(b('PASS pässwörd')), { name: 'PASS', password: 'pässwörd' });
    for (const name of ['STAT', 'NOOP', 'RSET', 'QUIT', 'CAPA', 'STLS'] as const) {
      assert.deepEqual(parseCommand(b(name.toLowerCase())), { name });
    }
    assert.deepEqual(parseCommand(b('LIST')), { name: 'LIST' });
    assert.deepEqual(parseCommand(b('List 3')), { name: 'LIST', msg: 3 });
    assert.deepEqual(parseCommand(b('UIDL 12 ')), { name: 'UIDL', msg: 12 }, 'a trailing space is tolerated');
    assert.deepEqual(parseCommand(b('RETR 1')), { name: 'RETR', msg: 1 });
    assert.deepEqual(parseCommand(b('dele 2')), { name: 'DELE', msg: 2 });
    assert.deepEqual(parseCommand(b('TOP 1 0')), { name: 'TOP', msg: 1, lines: 0 });
    assert.deepEqual(parseCommand(b('AUTH plain')), { name: 'AUTH', mechanism: 'PLAIN' });
    assert.deepEqual(parseCommand(b('AUTH PLAIN AGFAYg==')), { name: 'AUTH', mechanism: 'PLAIN', initialResponse: 'AGFAYg==' });
    assert.deepEqual(parseCommand(b('AUTH PLAIN =')), { name: 'AUTH', mechanism: 'PLAIN', initialResponse: '' });
  });

  test('precise errors', () => {
    const cases: [string | Buffer, string][] = [
      ['', 'empty'],
      [' STAT', 'empty'],
      ['APOP mrose c4c9334bac560ecc979e58001b3e22fb', 'unknown-command'],
      ['RETRX 1', 'unknown-command'],
      ['RETR', 'missing-argument'],
      ['TOP 1', 'missing-argument'],
      ['USER', 'missing-argument'],
      ['PASS', 'missing-argument'],
      ['PASS ', 'missing-argument'],
      ['AUTH', 'missing-argument'],
      ['STAT 1', 'extra-argument'],
      ['LIST 1 2', 'extra-argument'],
      ['USER a b', 'extra-argument'],
      ['AUTH PLAIN x y', 'extra-argument'],
      ['RETR x', 'bad-number'],
      ['RETR -1', 'bad-number'],
      ['RETR +1', 'bad-number'],
      ['RETR 0', 'bad-number'],
      ['RETR 12345678901', 'bad-number'],
      ['TOP 1 -1', 'bad-number'],
      ['AUTH PL@IN', 'bad-argument'],
      [Buffer.from('USER a\0b'), 'nul'],
      [Buffer.from('USER a\tb'), 'control-character'],
      [Buffer.from('USER a\rb'), 'control-character'],
      [Buffer.from([0x55, 0x53, 0x45, 0x52, 0x20, 0xff]), 'bad-encoding'],
    ];
    for (const [input, reason] of cases) {
      assert.equal(reasonOf(() => parseCommand(typeof input === 'string' ? b(input) : input)), reason, JSON.stringify(String(input)));
    }
    assert.equal(reasonOf(() => parseCommand(b('NOOP'), 5)), 'line-too-long');
    assert.deepEqual(parseCommand(b('NOOP'), 6), { name: 'NOOP' });
  });

  test('error texts never echo more than a short, printable excerpt', () => {
    try {
      parseCommand(b(`RETR ${'9'.repeat(11)}${'a'.repeat(300)}`));
      assert.fail('should throw');
    } catch (err) {
      assert.ok(err instanceof Pop3SyntaxError);
      assert.ok(err.message.length < 80, err.message);
    }
  });
});

describe('fuzz', () => {
  const SEEDS = [
    'USER alice@test.local\r\n',
    'PASS secret words\r\n',
    'TOP 1 10\r\n',
    'LIST 2\r\n',
    'AUTH PLAIN AGFsaWNlAHB3\r\n',
    'UIDL\r\n',
    'RETR 99999\r\n',
  ].map(b);

  test('splitter + parser: only typed errors, bounded buffers, whatever the bytes', () => {
    const rnd = prng(0x5eed);
    const int = (n: number): number => Math.floor(rnd() * n);
    const MAX = 64;
    let parsed = 0;
    let refused = 0;
    for (let round = 0; round < 3000; round++) {
      // Half mutated seeds, half random bytes (biased towards separators and digits).
      const parts: Buffer[] = [];
      for (let k = 1 + int(6); k > 0; k--) {
        if (rnd() < 0.5) {
          const s = Buffer.from(SEEDS[int(SEEDS.length)]!);
          for (let m = int(4); m > 0; m--) s[int(s.length)] = int(256);
          parts.push(s);
        } else {
          const alphabet = [0x00, 0x0a, 0x0d, 0x20, 0x2e, 0x31, 0x39, 0x41, 0x55, 0x80, 0xc3, 0xff];
          const len = int(rnd() < 0.1 ? 300 : 40);
          parts.push(Buffer.from(Array.from({ length: len }, () => (rnd() < 0.6 ? alphabet[int(alphabet.length)]! : int(256)))));
        }
      }
      const input = Buffer.concat(parts);
      const splitter = new LineSplitter(MAX);
      let pos = 0;
      while (pos < input.length) {
        const n = 1 + int(50);
        for (const ev of splitter.push(input.subarray(pos, pos + n))) {
          if (ev.kind === 'overflow') continue;
          assert.ok(ev.line.length <= MAX - 2, 'a line is never longer than the limit');
          assert.ok(!ev.line.includes(0x0a), 'a line never contains LF');
          try {
            const cmd = parseCommand(ev.line, MAX);
            assert.ok(pop3.POP3_COMMANDS.includes(cmd.name));
            parsed++;
            if (cmd.name === 'AUTH' && cmd.initialResponse) {
              try {
                decodeSaslPlain(cmd.initialResponse);
              } catch (err) {
                assert.ok(err instanceof SaslError, String(err));
              }
            }
          } catch (err) {
            assert.ok(err instanceof Pop3SyntaxError, `unexpected ${String(err)} for ${JSON.stringify(ev.line.toString('latin1'))}`);
            refused++;
          }
          try {
            parseSaslResponse(pop3.decodeLine(ev.line));
          } catch (err) {
            assert.ok(err instanceof Pop3SyntaxError || err instanceof SaslError, String(err));
          }
        }
        assert.ok(splitter.buffered < MAX, `splitter holds ${splitter.buffered} bytes`);
        pos += n;
      }
      // Dot-stuffing of arbitrary bytes un-stuffs to the same bytes (the client's view).
      const stuffed = dotStuff(input);
      const expected = input.length === 0 || input[input.length - 1] === 0x0a ? input : Buffer.concat([input, b('\r\n')]);
      assert.ok(unstuff(stuffed).equals(expected));
      // And the codec's own inverse agrees (the body without its ".CRLF").
      assert.ok(dotUnstuff(stuffed.subarray(0, stuffed.length - 3)).equals(expected));
    }
    // The fuzzer must reach both outcomes, or it tests nothing.
    assert.ok(parsed > 100 && refused > 100, `parsed ${parsed}, refused ${refused}`);
  });
});

/** The client side of dot-stuffing, written independently: split on LF, strip one leading dot. */
function unstuff(wire: Buffer): Buffer {
  const out: Buffer[] = [];
  let pos = 0;
  for (;;) {
    const lf = wire.indexOf(0x0a, pos);
    assert.ok(lf >= 0, 'response must be terminated');
    const line = wire.subarray(pos, lf + 1);
    if (line.equals(b('.\r\n'))) {
      assert.equal(lf + 1, wire.length, 'nothing after the terminator');
      return Buffer.concat(out);
    }
    out.push(line[0] === 0x2e ? line.subarray(1) : line);
    pos = lf + 1;
  }
}
