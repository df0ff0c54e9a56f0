import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { OutcomeRing } from '../../src/clientmodule/index.js';

const entry = (n: number, direction: 'send' | 'receive' = 'send') => ({ at: new Date(n * 1000).toISOString(), direction, account: 'a@x.test', from: 'a@x.test', to: [`r${n}@y.test`], result: 'ok' as const, codes: {} });

describe('client module outcome ring', () => {
  test('keeps the last `capacity` entries, newest first', () => {
    const ring = new OutcomeRing(3);
    for (let n = 1; n <= 5; n++) ring.record(entry(n));
    assert.equal(ring.size, 3);
    assert.deepEqual(ring.list().map((o) => o.to[0]), ['r5@y.test', 'r4@y.test', 'r3@y.test']);
  });

  test('limit and direction filter; fewer entries than capacity', () => {
    const ring = new OutcomeRing(10);
    ring.record(entry(1, 'send'));
    ring.record(entry(2, 'receive'));
    ring.record(entry(3, 'send'));
    assert.deepEqual(ring.list({ direction: 'send' }).map((o) => o.to[0]), ['r3@y.test', 'r1@y.test']);
    assert.deepEqual(ring.list({ limit: 1 }).map((o) => o.to[0]), ['r3@y.test']);
    assert.deepEqual(ring.list({ direction: 'receive', limit: 5 }).map((o) => o.direction), ['receive']);
  });

  test('capacity 0 records nothing; a bad capacity is refused', () => {
    const ring = new OutcomeRing(0);
    ring.record(entry(1));
    assert.deepEqual(ring.list(), []);
    assert.throws(() => new OutcomeRing(-1), /capacity/);
    assert.throws(() => new OutcomeRing(1.5), /capacity/);
  });

  test('an entry is copied: changing the caller’s list later changes nothing; time defaults to now', () => {
    const ring = new OutcomeRing(2);
    const to = ['b@y.test'];
    ring.record({ direction: 'receive', account: 'b@y.test', from: 'a@x.test', to, result: 'failed', codes: { 'X-KIM-DecryptionResult': '01' }, error: 'x' });
    to.push('c@y.test');
    const [o] = ring.list();
    assert.deepEqual(o!.to, ['b@y.test']);
    assert.ok(Math.abs(Date.parse(o!.at) - Date.now()) < 5000);
    assert.deepEqual(o!.codes, { 'X-KIM-DecryptionResult': '01' });
  });
});
