import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginPolicy } from '../../src/clientmodule/index.js';
import { parseConfig } from '../../src/config/index.js';
import { kim } from '../../src/wire/index.js';

// The decision alone, on user names as the parser gives them (the end-to-end combinations over
// SMTP and POP3, and the targets that must not be dialled, are in accounts.test.ts).

const accounts = parseConfig(
  {
    clientModule: {
      accounts: [
        { address: 'Praxis-A@kim.test', contexts: [{ mandant: 'm-a', clientSystems: ['PVS'], workplaces: ['1', '2'] }, { mandant: 'm-a2', workplaces: ['*'], users: ['arzt-1'] }] },
        { address: 'praxis-b@kim.test', contexts: [{ mandant: 'm-b' }] },
      ],
    },
  },
  'test',
  {},
).clientModule.accounts;
const policy = new LoginPolicy(accounts, [{ host: 'h', ports: [465, 995] }]);
const check = (user: string, protocol: kim.KimUserNameProtocol = 'pop3') => policy.check(kim.parseKimUserName(user, protocol));

// Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2010, KOM-LE-A_2032 (the call context of the user name, used only as configured)
test('KOM-LE-A_2010 / KOM-LE-A_2032: a context is allowed when Mandant, client system, workplace and UserId are all in one of the account\'s contexts', () => {
  for (const [user, ok] of [
    ['praxis-a@kim.test#h:465#m-a#PVS#1', true],
    ['PRAXIS-A@KIM.TEST#h:465#m-a#PVS#2', true],
    ['praxis-a@kim.test#h:465#m-a#KIS#1', false],
    ['praxis-a@kim.test#h:465#m-a#PVS#3', false],
    ['praxis-a@kim.test#h:465#M-A#PVS#1', false],
    ['praxis-a@kim.test#h:465#m-b#PVS#1', false],
    ['praxis-a@kim.test#h:465#m-a2#KIS#99', true],
    ['praxis-a@kim.test#h:995#m-a2#KIS#99#arzt-1', true],
    ['praxis-a@kim.test#h:995#m-a2#KIS#99#arzt-2', false],
    ['praxis-a@kim.test#h:995#m-a#PVS#1#arzt-1', true],
    ['praxis-b@kim.test#h:465#m-b#ANY#any', true],
    ['praxis-b@kim.test#h:465#m-a#PVS#1', false],
    ['praxis-c@kim.test#h:465#m-a#PVS#1', false],
  ] as const) {
    assert.equal(check(user).ok, ok, user);
  }
});

test('one answer for an unknown account and a context not allowed; the reason only for the log', () => {
  const unknown = check('praxis-c@kim.test#h:465#m-b#PVS#1');
  const other = check('praxis-a@kim.test#h:465#m-b#PVS#1');
  assert.ok(!unknown.ok && !other.ok);
  assert.deepEqual([unknown.why, other.why], ['unknown account', 'context not allowed']);
  assert.equal(unknown.text.replace('praxis-c', 'praxis-a'), other.text);
  assert.equal(other.text, 'this client module is not configured for praxis-a@kim.test with Mandant m-b, client system PVS, workplace 1');
});

test('no accounts: every login refused', () => {
  const none = new LoginPolicy([], [{ host: 'h', ports: [465] }]);
  assert.equal(none.refusesEverything, true);
  assert.equal(policy.refusesEverything, false);
  assert.equal(none.check(kim.parseKimUserName('praxis-a@kim.test#h:465#m-a#PVS#1', 'smtp')).ok, false);
});

// Requirements: gemSpec_CM_KOMLE: KOM-LE-A_2011, KOM-LE-A_2033-01 (the MTA of the user name, only among the configured providers)
test('KOM-LE-A_2011 / KOM-LE-A_2033-01: providers — a host entry matches that name or address, a domain entry the domain and names under it; the port must be listed', () => {
  const providers = parseConfig(
    {
      clientModule: {
        providers: [
          { host: 'Mail.Provider-A.example' },
          { host: '192.0.2.10', ports: [4465] },
          { host: '[2001:DB8:0::1]', ports: [465] },
          { domain: 'kim-b.example', ports: [465, 995] },
        ],
      },
    },
    'test',
    {},
  ).clientModule.providers;
  assert.deepEqual(providers[0], { host: 'mail.provider-a.example', ports: [465, 995] }, 'KIM ports by default');
  const p = new LoginPolicy(accounts, providers);
  const at = (target: string) => p.check(kim.parseKimUserName(`praxis-b@kim.test#${target}#m-b#PVS#1`, 'smtp'));
  for (const [target, ok] of [
    ['mail.provider-a.example:465', true],
    ['MAIL.provider-a.example:995', true],
    ['mail.provider-a.example:25', false],
    ['provider-a.example:465', false],
    ['x.mail.provider-a.example:465', false],
    ['192.0.2.10:4465', true],
    ['192.0.2.10:465', false],
    ['192.0.2.11:4465', false],
    ['[2001:db8::1]:465', true],
    ['[2001:db8:0:0:0:0:0:1]:465', true],
    ['[2001:db8::2]:465', false],
    ['kim-b.example:465', true],
    ['mx.kim-b.example:995', true],
    ['a.b.kim-b.example:465', true],
    ['evilkim-b.example:465', false],
    ['kim-b.example.evil:465', false],
    ['mx.kim-b.example:8080', false],
    ['127.0.0.1:465', false],
  ] as const) {
    const v = at(target);
    assert.equal(v.ok, ok, target);
    if (!v.ok) assert.deepEqual([v.why, v.text], ['provider not configured', 'the mail service in the user name is not one this client module is configured for'], target);
  }
  // An IP address never matches a domain entry, whatever its digits.
  const digits = new LoginPolicy(accounts, parseConfig({ clientModule: { providers: [{ domain: '0.10' }] } }, 'test', {}).clientModule.providers);
  assert.equal(digits.check(kim.parseKimUserName('praxis-b@kim.test#192.0.0.10:465#m-b#PVS#1', 'smtp')).ok, false);
  assert.equal(new LoginPolicy(accounts, []).refusesEverything, true, 'no providers: every login refused');
});

test('clientModule.providers: either host or domain, valid names, ports 1-65535', () => {
  const providers = (p: Record<string, unknown>) => ({ clientModule: { providers: [p] } });
  assert.deepEqual(parseConfig({}, 'f', {}).clientModule.providers, []);
  assert.throws(() => parseConfig(providers({ host: 'a.example', domain: 'example' }), 'f', {}), /clientModule\.providers\.0: give either host or domain/);
  assert.throws(() => parseConfig(providers({ ports: [465] }), 'f', {}), /clientModule\.providers\.0: give either host or domain/);
  assert.throws(() => parseConfig(providers({ host: 'bad host' }), 'f', {}), /clientModule\.providers\.0\.host: must be a host name or an IP address/);
  assert.throws(() => parseConfig(providers({ domain: '*.example' }), 'f', {}), /clientModule\.providers\.0\.domain: must be a domain name/);
  assert.throws(() => parseConfig(providers({ host: 'a.example', ports: [0] }), 'f', {}), /clientModule\.providers\.0\.ports/);
  assert.throws(() => parseConfig(providers({ host: 'a.example', ports: [] }), 'f', {}), /clientModule\.providers\.0\.ports/);
  assert.throws(() => parseConfig(providers({ host: 'a.example', port: 465 }), 'f', {}), /clientModule\.providers\.0.*port/);
});
