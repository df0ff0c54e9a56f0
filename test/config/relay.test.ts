import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/index.js';
import { UsageError } from '../../src/core/index.js';

describe('relay configuration', () => {
  const relay = (r: Record<string, unknown>) => parseConfig({ service: { relay: r } }, 'postamt.yaml', {});

  test('defaults: on, MX on port 465 with implicit TLS, five days, the KOM-LE schedule', () => {
    const c = relay({}).service.relay;
    assert.equal(c.enabled, true);
    assert.deepEqual(c.worker, { enabled: true, concurrency: 16, pollIntervalMs: 5000, leaseMs: 45 * 60_000 });
    assert.deepEqual([c.mxPort, c.mxTls, c.retry.maxAgeMs, c.retry.delayWarnMs, c.maxRecipients], [465, 'implicit', 5 * 86_400_000, 0, 100]);
    assert.deepEqual(c.retry.scheduleMs, [60_000, 300_000, 900_000, 1_800_000, 3_600_000, 7_200_000, 14_400_000]);
    assert.deepEqual(c.ca, []);
  });

  test('tls none only towards loopback: TLS everywhere else', () => {
    assert.throws(
      () => relay({ routes: { 'b.test': { host: 'mx.b.test', port: 25, tls: 'none' } } }),
      (e: Error) => e instanceof UsageError && /service\.relay\.routes\.b\.test\.tls: none is only allowed for a loopback host, not mx\.b\.test/.test(e.message),
    );
    for (const host of ['127.0.0.1', 'localhost', '::1']) assert.equal(relay({ routes: { 'b.test': { host, port: 2525, tls: 'none' } } }).service.relay.routes['b.test']!.tls, 'none');
    assert.throws(() => relay({ mxTls: 'none' }), /service\.relay\.mxTls/);
    assert.equal(relay({ routes: { '*': { host: 'smarthost.a.test', port: 465 } } }).service.relay.routes['*']!.tls, 'implicit', 'a route is implicit TLS unless it says otherwise');
  });

  test('bounds: route keys, ports, concurrency, the schedule, the lease against the timeouts, unknown keys', () => {
    assert.throws(() => relay({ routes: { 'B.Test': { host: 'x', port: 25 } } }), /routes\.B\.Test: must be a lower-case domain name or \*/);
    assert.throws(() => relay({ routes: { 'b.test': { host: 'x', port: 0 } } }), /routes\.b\.test\.port/);
    assert.throws(() => relay({ worker: { concurrency: 0 } }), /service\.relay\.worker\.concurrency/);
    assert.throws(() => relay({ worker: { concurrency: 257 } }), /service\.relay\.worker\.concurrency/);
    assert.throws(() => relay({ maxRecipients: 0 }), /service\.relay\.maxRecipients/);
    assert.throws(() => relay({ retry: { scheduleMs: [] } }), /service\.relay\.retry\.scheduleMs/);
    assert.throws(() => relay({ retry: { scheduleMs: [-1] } }), /service\.relay\.retry\.scheduleMs/);
    assert.throws(() => relay({ retry: { maxAgeMs: -1 } }), /service\.relay\.retry\.maxAgeMs/);
    assert.throws(() => relay({ worker: { leaseMs: 60_000 } }), /service\.relay\.worker\.leaseMs: must be at least 2 × \(dataTimeoutMs \+ 10 × timeoutMs\)/);
    assert.equal(relay({ worker: { leaseMs: 60_000 }, timeoutMs: 1000, dataTimeoutMs: 20_000 }).service.relay.worker.leaseMs, 60_000);
    assert.throws(() => relay({ heloName: 'two words' }), /service\.relay\.heloName/);
    assert.throws(() => relay({ sessionIdleMs: 300_001 }), /service\.relay\.sessionIdleMs/);
    assert.throws(() => relay({ sessionIdleMs: -1 }), /service\.relay\.sessionIdleMs/);
    assert.throws(() => relay({ sessionMaxTransactions: 0 }), /service\.relay\.sessionMaxTransactions/);
    assert.deepEqual([relay({}).service.relay.sessionIdleMs, relay({}).service.relay.sessionMaxTransactions], [2000, 100]);
    assert.throws(() => relay({ route: {} }), /service\.relay: unknown key\(s\): route/);
  });
});
