import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginPolicy } from '../../src/clientmodule/index.js';
import { parseConfig } from '../../src/config/index.js';
import { kim } from '../../src/wire/index.js';

// The decision alone, on user names as the parser gives them (the end-to-end combinations over
// SMTP and POP3 are in accounts.test.ts).

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
const policy = new LoginPolicy(accounts);
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
  const none = new LoginPolicy([]);
  assert.equal(none.refusesEverything, true);
  assert.equal(policy.refusesEverything, false);
  assert.equal(none.check(kim.parseKimUserName('praxis-a@kim.test#h:465#m-a#PVS#1', 'smtp')).ok, false);
});
