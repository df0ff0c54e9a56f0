import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../../src/config/index.js';
import { UsageError } from '../../../src/core/index.js';
import { RelayRoutes, orderMx, type MxRecord, type MxResolver } from '../../../src/service/relay/index.js';

/** A resolver with fixed answers; an Error with a DNS code for the others. */
function resolver(answers: Record<string, MxRecord[] | string>): MxResolver {
  return async (domain) => {
    const a = answers[domain];
    if (a === undefined) throw Object.assign(new Error(`queryMx ENOTFOUND ${domain}`), { code: 'ENOTFOUND' });
    if (typeof a === 'string') throw Object.assign(new Error(`queryMx ${a} ${domain}`), { code: a });
    return a;
  };
}

const mxOpts = { routes: {}, mxPort: 465, mxTls: 'implicit' as const, maxMxHosts: 5 };

describe('relay routes: static routes, smarthost, MX lookup', () => {
  test('MX hosts by preference, equal preferences in random order, names normalised, duplicates once', () => {
    const records = [
      { exchange: 'Backup.B.test.', priority: 20 },
      { exchange: 'mx1.b.test', priority: 10 },
      { exchange: 'mx2.b.test', priority: 10 },
      { exchange: 'mx2.b.test', priority: 10 },
    ];
    // random() = 0 keeps swapping the last with the first; 0.99 keeps the order.
    assert.deepEqual(orderMx(records, () => 0.99), ['mx1.b.test', 'mx2.b.test', 'backup.b.test']);
    assert.deepEqual(orderMx(records, () => 0), ['mx2.b.test', 'mx1.b.test', 'backup.b.test']);
    const seen = new Set<string>();
    for (let i = 0; i < 200; i++) seen.add(orderMx(records).join(' '));
    assert.deepEqual([...seen].sort(), ['mx1.b.test mx2.b.test backup.b.test', 'mx2.b.test mx1.b.test backup.b.test'], 'both orders of the equals occur, the backup is always last');
  });

  test('resolve: MX targets get mxPort and mxTls and the relay CA; at most maxMxHosts', async () => {
    const r = new RelayRoutes({
      ...mxOpts,
      maxMxHosts: 2,
      ca: ['PEM'],
      random: () => 0.99,
      resolveMx: resolver({ 'b.test': [3, 1, 2].map((p) => ({ exchange: `mx${p}.b.test`, priority: p })) }),
    });
    assert.deepEqual(await r.resolve('b.test'), {
      ok: true,
      targets: [
        { host: 'mx1.b.test', port: 465, tls: 'implicit', ca: ['PEM'] },
        { host: 'mx2.b.test', port: 465, tls: 'implicit', ca: ['PEM'] },
      ],
    });
  });

  test('no MX record: the domain itself (RFC 5321 5.1); null MX: permanent 5.1.10; NXDOMAIN: permanent 5.1.2; DNS trouble: temporary', async () => {
    const r = new RelayRoutes({
      ...mxOpts,
      resolveMx: resolver({ 'plain.test': 'ENODATA', 'empty.test': [], 'null.test': [{ exchange: '', priority: 0 }], 'dot.test': [{ exchange: '.', priority: 0 }], 'slow.test': 'ETIMEOUT' }),
    });
    assert.deepEqual(await r.resolve('plain.test'), { ok: true, targets: [{ host: 'plain.test', port: 465, tls: 'implicit', ca: undefined }] });
    assert.deepEqual(await r.resolve('empty.test'), { ok: true, targets: [{ host: 'empty.test', port: 465, tls: 'implicit', ca: undefined }] });
    for (const d of ['null.test', 'dot.test']) {
      const a = await r.resolve(d);
      assert.ok(!a.ok && a.permanent && a.status === '5.1.10', JSON.stringify(a));
    }
    const nx = await r.resolve('nowhere.test');
    assert.ok(!nx.ok && nx.permanent && nx.status === '5.1.2', JSON.stringify(nx));
    const slow = await r.resolve('slow.test');
    assert.ok(!slow.ok && !slow.permanent && slow.status === '4.4.3' && /ETIMEOUT/.test(slow.text), JSON.stringify(slow));
  });

  test('a static route wins over MX; `*` is the smarthost for every other domain', async () => {
    let asked = 0;
    const count: MxResolver = async () => {
      asked++;
      return [];
    };
    const b = { host: '127.0.0.1', port: 2525, tls: 'starttls' as const };
    const smart = { host: 'smarthost.a.test', port: 465, tls: 'implicit' as const };
    const only = new RelayRoutes({ ...mxOpts, routes: { 'b.test': b }, resolveMx: count });
    assert.deepEqual(await only.resolve('b.test'), { ok: true, targets: [b] });
    assert.equal(asked, 0, 'no DNS for a static route');
    const withStar = new RelayRoutes({ ...mxOpts, routes: { 'b.test': b, '*': smart }, resolveMx: count });
    assert.deepEqual(await withStar.resolve('c.test'), { ok: true, targets: [smart] });
    assert.equal(asked, 0);
  });
});

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
