import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseKimUserName, formatKimUserName, KimUserNameError, type KimUserNameProtocol } from '../../../src/wire/kim/index.js';

// Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2010 and KOM-LE-A_2032 (address, MTA, port and card context from the user name), A_21457 and A_21517 (KonnektorId extracted)
describe('KOM-LE user name: accepted forms', () => {
  test('the SMTP example of the specification', () => {
    const u = parseKimUserName('erik.mustermann@komle.de#mail.komle.de:465#1#KOM_LE#7', 'smtp');
    assert.deepEqual(u, {
      address: 'erik.mustermann@komle.de',
      host: 'mail.komle.de',
      port: 465,
      context: { mandantId: '1', clientSystemId: 'KOM_LE', workplaceId: '7' },
    });
  });
  test('SMTP with a KonnektorId', () => {
    const u = parseKimUserName('a@b.de#mta.b.de:465#M#C#W#Konn_1', 'smtp');
    assert.equal(u.konnektorId, 'Konn_1');
    assert.equal(u.context.userId, undefined);
  });
  test('POP3 with a UserId only', () => {
    const u = parseKimUserName('a@b.de#mta.b.de:995#M#C#W#HBA_1', 'pop3');
    assert.equal(u.context.userId, 'HBA_1');
    assert.equal(u.konnektorId, undefined);
  });
  test('POP3 with * for a skipped UserId before a KonnektorId', () => {
    const u = parseKimUserName('a@b.de#mta.b.de:995#1#KOM_LE#7#*#Konn_1', 'pop3');
    assert.equal(u.context.userId, undefined);
    assert.equal(u.konnektorId, 'Konn_1');
  });
  test('POP3 with UserId and KonnektorId', () => {
    const u = parseKimUserName('a@b.de#mta.b.de:995#1#KOM_LE#7#U1#K1', 'pop3');
    assert.equal(u.context.userId, 'U1');
    assert.equal(u.konnektorId, 'K1');
  });
  test('bracketed IPv6 and plain IPv4 hosts', () => {
    assert.equal(parseKimUserName('a@b.de#[2001:db8::1]:465#1#2#3', 'smtp').host, '2001:db8::1');
    assert.equal(parseKimUserName('a@b.de#[::1]:4465#1#2#3', 'smtp').port, 4465);
    assert.equal(parseKimUserName('a@b.de#127.0.0.1:995#1#2#3', 'pop3').host, '127.0.0.1');
  });
  test('host names are lower-cased, the address is kept as given', () => {
    const u = parseKimUserName('Praxis-A@Praxis.KIM.test#MTA.Example:465#1#2#3', 'smtp');
    assert.equal(u.host, 'mta.example');
    assert.equal(u.address, 'Praxis-A@Praxis.KIM.test');
  });
  test('format is the inverse of parse', () => {
    const cases: Array<[string, KimUserNameProtocol]> = [
      ['a@b.de#mta.b.de:465#1#KOM_LE#7', 'smtp'],
      ['a@b.de#mta.b.de:465#1#KOM_LE#7#K', 'smtp'],
      ['a@b.de#[2001:db8::1]:995#1#KOM_LE#7#*#K', 'pop3'],
      ['a@b.de#mta.b.de:995#1#KOM_LE#7#U', 'pop3'],
      ['a@b.de#mta.b.de:995#1#KOM_LE#7#U#K', 'pop3'],
    ];
    for (const [s, p] of cases) assert.equal(formatKimUserName(parseKimUserName(s, p), p), s);
  });
});

// Requirements: gemSpec_CM_KOMLE: A_21519-02 and A_21518-02 (completeness, '*' placeholder)
describe('KOM-LE user name: each mistake names what is wrong', () => {
  const cases: Array<{ input: string; protocol: KimUserNameProtocol; field: string; text: RegExp }> = [
    { input: 'a@b.de', protocol: 'smtp', field: 'host', text: /must contain the MTA address and port/ },
    { input: 'a@b.de#', protocol: 'smtp', field: 'host', text: /must contain the MTA address and port/ },
    { input: 'a@b.de#mta:465', protocol: 'smtp', field: 'mandantId', text: /lacks MandantId, ClientsystemId, WorkplaceId/ },
    { input: 'a@b.de#mta:465#1', protocol: 'smtp', field: 'clientSystemId', text: /lacks ClientsystemId, WorkplaceId/ },
    { input: 'a@b.de#mta:465#1#C', protocol: 'pop3', field: 'workplaceId', text: /lacks WorkplaceId/ },
    { input: 'a@b.de#mta#1#C#W', protocol: 'smtp', field: 'port', text: /must include the port/ },
    { input: 'a@b.de#mta:#1#C#W', protocol: 'smtp', field: 'port', text: /not a number/ },
    { input: 'a@b.de#mta:99999#1#C#W', protocol: 'smtp', field: 'port', text: /out of range/ },
    { input: 'a@b.de#mta:0#1#C#W', protocol: 'smtp', field: 'port', text: /out of range/ },
    { input: 'a@b.de#:465#1#C#W', protocol: 'smtp', field: 'host', text: /host name is missing/ },
    { input: 'a@b.de#2001:db8::1:465#1#C#W', protocol: 'smtp', field: 'host', text: /in brackets/ },
    { input: 'a@b.de#[2001:db8::1#1#C#W', protocol: 'smtp', field: 'host', text: /does not close/ },
    { input: 'a@b.de#[mta.example]:465#1#C#W', protocol: 'smtp', field: 'host', text: /not an IPv6 address/ },
    { input: 'a@b.de#[::1]465#1#C#W', protocol: 'smtp', field: 'port', text: /followed by :port/ },
    { input: 'a@b.de#bad_host!:465#1#C#W', protocol: 'smtp', field: 'host', text: /not a valid MTA host name/ },
    { input: '#mta:465#1#C#W', protocol: 'smtp', field: 'address', text: /must start with the KIM address/ },
    { input: 'nobody#mta:465#1#C#W', protocol: 'smtp', field: 'address', text: /not a mail address/ },
    { input: 'a b@c.de#mta:465#1#C#W', protocol: 'smtp', field: 'address', text: /not allowed/ },
    { input: 'a@b.de#mta:465##C#W', protocol: 'smtp', field: 'mandantId', text: /MandantId is missing/ },
    { input: 'a@b.de#mta:465#1#*#W', protocol: 'smtp', field: 'clientSystemId', text: /ClientsystemId is missing/ },
    { input: 'a@b.de#mta:465#1#C#', protocol: 'smtp', field: 'workplaceId', text: /WorkplaceId is missing/ },
    { input: 'a@b.de#mta:465#1#C#W#K#X', protocol: 'smtp', field: 'fields', text: /at most 6/ },
    { input: 'a@b.de#mta:995#1#C#W#U#K#X', protocol: 'pop3', field: 'fields', text: /at most 7/ },
    { input: 'a@b.de#mta:995#1#C#W##K', protocol: 'pop3', field: 'userId', text: /UserId is missing/ },
    { input: 'a@b.de#mta:995#1#C\x01#W', protocol: 'pop3', field: 'clientSystemId', text: /control characters/ },
    { input: 'a@b.de#mta:995#1#C#W#' + 'x'.repeat(200), protocol: 'pop3', field: 'userId', text: /longer than/ },
    { input: 'a@b.de#mta:995#1#C#W' + '#'.repeat(600), protocol: 'pop3', field: 'fields', text: /longer than 512/ },
  ];
  for (const c of cases) {
    test(`${c.protocol}: ${JSON.stringify(c.input).slice(0, 60)}`, () => {
      assert.throws(
        () => parseKimUserName(c.input, c.protocol),
        (err: unknown) => err instanceof KimUserNameError && err.field === c.field && c.text.test(err.message),
      );
    });
  }
  test('error texts never carry control characters', () => {
    try {
      parseKimUserName('a\r\n@b.de#mta:465#1#C#W', 'smtp');
      assert.fail('must throw');
    } catch (err) {
      assert.ok(err instanceof KimUserNameError);
      assert.doesNotMatch(err.message, /[\r\n]/);
    }
  });
  test('fuzz: random strings either parse or throw KimUserNameError, and parsed ones round-trip', () => {
    const alphabet = 'ab@.#:*[]1-_ \x00\u00e4';
    let seed = 12345;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
    for (let i = 0; i < 20000; i++) {
      const len = Math.floor(rnd() * 40);
      let s = '';
      for (let j = 0; j < len; j++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      for (const p of ['smtp', 'pop3'] as const) {
        try {
          const u = parseKimUserName(s, p);
          assert.deepEqual(parseKimUserName(formatKimUserName(u, p), p), u);
        } catch (err) {
          if (!(err instanceof KimUserNameError)) throw err;
        }
      }
    }
  });
});
