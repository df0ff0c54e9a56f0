import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
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

