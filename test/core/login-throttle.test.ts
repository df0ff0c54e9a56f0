import { test } from 'node:test';
import assert from 'node:assert/strict';
import { LoginThrottle } from '../../src/core/index.js';

test('login throttle: free failures, doubling penalty, cap, window expiry, bounded memory', () => {
  let now = 0;
  const t = new LoginThrottle({ windowMs: 1000, freeFailures: 2, baseDelayMs: 100, maxDelayMs: 350, maxEntries: 3 }, () => now);
  assert.deepEqual([t.failure('a'), t.failure('a'), t.failure('a'), t.failure('a'), t.failure('a')], [0, 0, 100, 200, 350]);
  assert.equal(t.penalty('a'), 350);
  assert.equal(t.penalty('b'), 0, 'other addresses are not affected');
  now = 2000;
  assert.equal(t.penalty('a'), 0, 'the window expired');
  assert.equal(t.failure('a'), 0, 'counting starts afresh');
  for (let i = 0; i < 3; i++) t.failure('a');
  t.failure('b');
  t.failure('c');
  t.failure('d'); // evicts the least recently failing address, 'a'
  assert.equal(t.penalty('a'), 0);
});

// Issue 17, fault 1: the gate before the password check.
const gateOpts = { windowMs: 60_000, freeFailures: 1, baseDelayMs: 1000, maxDelayMs: 8000, maxChecks: 2, maxWaitingChecks: 1, maxChecksPerAddress: 1, maxWaitingPerAddress: 2 };

test('login gate: a penalised address is answered without a check until its penalty has passed', async () => {
  let now = 0;
  const t = new LoginThrottle(gateOpts, () => now);
  t.failure('a');
  const free = await t.admit('a');
  assert.equal(free.kind, 'check', 'a free failure does not penalise');
  if (free.kind === 'check') free.release();
  t.failure('a');
  assert.deepEqual(await t.admit('a'), { kind: 'penalised', waitMs: 1000 });
  now = 400;
  assert.deepEqual(await t.admit('a'), { kind: 'penalised', waitMs: 600 });
  const b = await t.admit('b');
  assert.equal(b.kind, 'check', 'other addresses are not affected');
  if (b.kind === 'check') b.release();
  now = 1000;
  assert.equal((await t.admit('a')).kind, 'check', 'after the penalty the next attempt is checked');
});

test('login gate: checks from one address run one at a time; the one waiting sees the failure before it', async () => {
  const t = new LoginThrottle(gateOpts, () => 0);
  t.failure('a'); // the free one
  const first = await t.admit('a');
  assert.equal(first.kind, 'check');
  const second = t.admit('a');
  let settled = false;
  void second.then(() => (settled = true));
  await new Promise((r) => setImmediate(r));
  assert.equal(settled, false, 'the second waits while the first is checked');
  t.failure('a');
  if (first.kind === 'check') first.release();
  assert.deepEqual(await second, { kind: 'penalised', waitMs: 1000 }, 'parallel guesses go no faster than sequential ones');
});

test('login gate: bounded waiting per address and in all; "busy" at once beyond it', async () => {
  const t = new LoginThrottle(gateOpts, () => 0);
  const a1 = await t.admit('a');
  const waiting = [t.admit('a'), t.admit('a')];
  assert.equal((await t.admit('a')).kind, 'busy', 'a third waiting attempt from one address');
  const b1 = await t.admit('b');
  assert.equal(b1.kind, 'check', 'a second address gets the second of two slots');
  const c = t.admit('c');
  assert.equal((await t.admit('d')).kind, 'busy', 'the queue for all is full');
  if (a1.kind === 'check') a1.release();
  const c1 = await c;
  assert.equal(c1.kind, 'check', 'the freed slot goes to the first in the queue for all');
  if (b1.kind === 'check') b1.release();
  const a2 = await waiting[0]!;
  assert.equal(a2.kind, 'check', 'then to the next attempt of the same address');
  for (const x of [a2, c1]) if (x.kind === 'check') x.release();
  const a3 = await waiting[1]!;
  assert.equal(a3.kind, 'check');
  if (a3.kind === 'check') a3.release();
});

test('login gate: an attempt whose connection goes while it waits is dropped and never checked', async () => {
  const t = new LoginThrottle(gateOpts, () => 0);
  const first = await t.admit('a');
  const gone = new AbortController();
  const abandoned = t.admit('a', gone.signal);
  const next = t.admit('a');
  gone.abort();
  assert.deepEqual(await abandoned, { kind: 'abandoned' });
  if (first.kind === 'check') first.release();
  const n = await next;
  assert.equal(n.kind, 'check', 'the slot went to the attempt behind the abandoned one');
  if (n.kind === 'check') n.release();
  const aborted = new AbortController();
  aborted.abort();
  assert.deepEqual(await t.admit('z', aborted.signal), { kind: 'abandoned' }, 'a connection already gone is not checked');
});
