import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { RemoteSource } from '../../../src/integration/index.js';
import { startIntegrationService, addCheapAccounts, SEED_USER, SEED_PASSWORD } from '../../helpers/integration.js';
import { listenOnLoopback } from '../../helpers/net.js';
import { collect } from '../../helpers/stream.js';

test('integration source: a second Postamt endpoint, chained (list, auth, wrong credentials, combined by priority)', async () => {
  const upstream = await startIntegrationService();
  try {
    await addCheapAccounts(upstream.svc, [{ address: 'anna@example.test', displayName: 'Anna' }, { address: 'bert@example.test' }]);
    const opts = { name: 'upstream', priority: 50, url: upstream.url + 'index.php', user: SEED_USER, password: SEED_PASSWORD, rejectUnauthorized: true, timeoutMs: 5000, listTimeoutMs: 5000, maxResponseBytes: 1024 * 1024 };
    const remote = new RemoteSource(opts);
    assert.deepEqual((await collect(remote.list())).map((u) => [u.userName, u.fullName]), [['anna@example.test', 'Anna'], ['bert@example.test', 'bert@example.test']]);
    assert.equal(await remote.authenticate('anna@example.test', 'Passw0rd!'), true);
    assert.equal(await remote.authenticate('anna@example.test', 'nope'), false);
    await assert.rejects(collect(new RemoteSource({ ...opts, password: 'wrong-password' }).list()), /HTTP 401/);
    await assert.rejects(collect(new RemoteSource({ ...opts, maxResponseBytes: 100 }).list()), /maxResponseBytes/);
    await assert.rejects(collect(new RemoteSource({ ...opts, url: 'http://127.0.0.1:1/' }).list()));
    // And a front Postamt serving a file source before the upstream one.
    const front = await startIntegrationService({
      sources: [
        { name: 'local', type: 'file', path: 'users.csv', priority: 10 },
        { name: 'upstream', type: 'integration', url: upstream.url, user: SEED_USER, password: SEED_PASSWORD, priority: 50 },
      ],
    });
    try {
      writeFileSync(join(front.dir, 'users.csv'), `userName,fullName,password\nanna@example.test,Anna (local),${await bcrypt.hash('local-pass', 4)}\ncarl,Carl,\n`);
      const combined = front.svc.integration.sources;
      assert.deepEqual((await collect(combined.list())).map((u) => [u.userName, u.fullName]), [
        ['anna@example.test', 'Anna (local)'],
        ['carl', 'Carl'],
        ['bert@example.test', 'bert@example.test'],
      ]);
      assert.equal(await combined.authenticate('anna@example.test', 'local-pass'), true, 'the file knows anna: it answers');
      assert.equal(await combined.authenticate('anna@example.test', 'Passw0rd!'), false, 'and the upstream is not asked');
      assert.equal(await combined.authenticate('bert@example.test', 'Passw0rd!'), true, 'unknown locally: the upstream answers');
    } finally {
      await front.close();
    }
  } finally {
    await upstream.close();
  }
});

test('integration source: each exchange has one deadline (a dribbling list fails in time), redirects are failures', async () => {
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      if (req.url === '/moved') {
        res.writeHead(301, { location: 'http://elsewhere.test/' });
        return res.end();
      }
      // "[" and then a space every 20 ms: never idle, never finished.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('[');
      const t = setInterval(() => res.write(' '), 20);
      res.on('close', () => clearInterval(t));
    });
  });
  const url = `http://127.0.0.1:${await listenOnLoopback(server)}/`;
  const opts = { name: 'slow', priority: 50, url, user: 'u', password: 'p', rejectUnauthorized: true, timeoutMs: 200, listTimeoutMs: 300, maxResponseBytes: 1024 * 1024 };
  try {
    const started = Date.now();
    await assert.rejects(collect(new RemoteSource(opts).list()), /slow: no complete answer to cmd=list within 300 ms/);
    assert.ok(Date.now() - started < 3000);
    await assert.rejects(new RemoteSource(opts).authenticate('a', 'b'), /slow: no complete answer to cmd=auth within 200 ms/);
    await assert.rejects(collect(new RemoteSource({ ...opts, url: url + 'moved' }).list()), /slow: answered 301 .*redirects are not followed/);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});
