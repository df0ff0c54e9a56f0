import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import pg from 'pg';
import { Client as LdapClient } from 'ldapts';
import { freshPostgres, repositoryPath, tempDir } from '../helpers/env.js';
import { postamt, run, spawnPostamt, type ServiceProcess } from '../helpers/process.js';
import { RawSmtpClient } from '../helpers/net.js';
import { peerCertificate } from '../helpers/relay.js';
import { startRelaySink, type RelaySink } from '../helpers/relay-sink.js';
import { startReceiver, type Receiver } from '../helpers/mailin.js';
import { until } from '../helpers/wait.js';

// Three `postamt serve` processes on one PostgreSQL database, as docs/operations.md describes
// them: the same database, secret key, admin token, TLS pair and blobs in the database; each
// its own data directory, ports and relay EHLO name.

const DOMAIN = 'nodes.test';
const PASSWORD = 'multi node password';
const HOOKS = `hooks@${DOMAIN}`;
const ADMIN_TOKEN = randomBytes(24).toString('hex');
const SECRET_KEY = randomBytes(32).toString('base64');
const CACHE_CHECK_MS = 200;
// The smallest lease the config check allows for these timeouts: 2 × (1000 + 10 × 250).
const RELAY = { timeoutMs: 250, dataTimeoutMs: 1000, leaseMs: 7000 };
const helo = (i: number): string => `node${i + 1}.${DOMAIN}`;

interface Node {
  proc: ServiceProcess;
  port(name: string): number;
}

/** One message as the test sends it: the bytes after the trace headers the node prepends. */
function message(key: string, to: string, filler = 20): Buffer {
  return Buffer.from(`Message-ID: <${key}@${DOMAIN}>\r\nFrom: <load@remote.test>\r\nTo: <${to}>\r\nSubject: ${key}\r\n\r\n${`${key} `.repeat(filler)}\r\n${'payload line\r\n'.repeat(40)}`);
}

/** One SMTP transaction to an MX listener on its own connection; true when it got 250. */
async function sendMx(port: number, to: string, body: Buffer): Promise<boolean> {
  const c = await RawSmtpClient.connect(port);
  try {
    await c.readReply();
    await c.cmd('EHLO sender.remote.test');
    if ((await c.cmd('MAIL FROM:<load@remote.test>')).code !== 250) return false;
    if ((await c.cmd(`RCPT TO:<${to}>`)).code !== 250) return false;
    if ((await c.cmd('DATA')).code !== 354) return false;
    c.write(Buffer.concat([body, Buffer.from('.\r\n')]));
    return (await c.readReply()).code === 250;
  } finally {
    c.close();
  }
}

/** Every message of a mailbox through Python's poplib on one node: Subject → the bytes after the trace headers. */
async function popAll(node: Node, user: string): Promise<Map<string, Buffer[]>> {
  const out = await run('python3', [repositoryPath('test', 'helpers', 'pop3dump.py'), '127.0.0.1', String(node.port('pop3')), user, PASSWORD], { check: true });
  const msgs = JSON.parse(out.stdout) as Array<{ size: number; data: string }>;
  const seen = new Map<string, Buffer[]>();
  for (const m of msgs) {
    const raw = Buffer.from(m.data, 'base64');
    assert.equal(raw.length, m.size, 'LIST size equals the retrieved octets');
    const start = raw.indexOf('Message-ID: ');
    assert.ok(start > 0, 'the message has its trace headers before what was sent');
    const key = /^Subject: (\S+)/m.exec(raw.toString('latin1'))![1]!;
    seen.set(key, [...(seen.get(key) ?? []), raw.subarray(start)]);
  }
  return seen;
}

/**
 * A mail client submitting to one node over one authenticated session (pooled, one connection):
 * parallel logins from one address would meet service.loginThrottle.maxWaitingPerAddress.
 */
function submitter(node: Node): { send(n: number, messageId: string): Promise<unknown>; close(): void } {
  const t = nodemailer.createTransport({ pool: true, maxConnections: 1, maxMessages: Infinity, host: '127.0.0.1', port: node.port('smtp-submission'), secure: true, tls: { rejectUnauthorized: false }, auth: { user: `sender@${DOMAIN}`, pass: PASSWORD } });
  return {
    send: (n, messageId) => t.sendMail({ from: `sender@${DOMAIN}`, to: `r${n}@remote.test`, subject: `relay ${n}`, text: 'Befund\n', messageId }),
    close: () => t.close(),
  };
}

async function ldapFinds(node: Node, telematikId: string): Promise<boolean> {
  const c = new LdapClient({ url: `ldap://127.0.0.1:${node.port('ldap')}`, timeout: 5000, connectTimeout: 5000 });
  try {
    const r = await c.search('dc=data,dc=vzd', { scope: 'sub', filter: `(telematikID=${telematikId})`, attributes: ['telematikID'] });
    return r.searchEntries.length === 1;
  } finally {
    await c.unbind();
  }
}

describe('three nodes on one PostgreSQL', { timeout: 120_000 }, () => {
  let db: Awaited<ReturnType<typeof freshPostgres>>;
  const dir = tempDir('postamt-nodes-');
  const nodes: Node[] = [];
  let sink: RelaySink;
  let receiver: Receiver;
  /** Webhook calls answered 200, per Message-ID; calls for an id in `hang` are held the first time. */
  const answered = new Map<string, number>();
  const hang = new Set<string>();
  let sql: pg.Client;

  before(async () => {
    db = await freshPostgres();
    if (!db) return;
    sink = await startRelaySink();
    receiver = await startReceiver((call) => {
      const id = String(call.json.messageId);
      if (hang.has(id) && receiver.calls.filter((c) => c.json.messageId === id).length === 1) return 'hang';
      answered.set(id, (answered.get(id) ?? 0) + 1);
      return { status: 200, body: {} };
    });
    const tls = await peerCertificate();
    const configs = [0, 1, 2].map((i) => {
      const dataDir = join(dir.path, `node${i + 1}`);
      mkdirSync(dataDir);
      const cfg = {
        dataDir,
        log: { level: 'info' },
        database: { url: db!.url, secretKey: SECRET_KEY },
        blobs: { backend: 'database' },
        tls: { cert: tls.cert, key: tls.key },
        service: {
          hostname: `mx.${DOMAIN}`,
          smtp: { mx: { port: 0 }, submission: { port: 0 }, authFailureDelayMs: 50 },
          pop3: { starttls: { port: 0 }, implicit: { port: 0 }, authFailureDelayMs: 50 },
          http: { port: 0, adminToken: ADMIN_TOKEN },
          relay: {
            heloName: helo(i),
            timeoutMs: RELAY.timeoutMs,
            dataTimeoutMs: RELAY.dataTimeoutMs,
            worker: { leaseMs: RELAY.leaseMs, pollIntervalMs: 100 },
            retry: { scheduleMs: [200] },
            routes: { 'remote.test': { host: '127.0.0.1', port: sink.port, tls: 'none' } },
          },
        },
        directory: { ldap: { starttls: { port: 0 }, implicit: { port: 0 } }, bindFailureDelayMs: 50, cacheCheckMs: CACHE_CHECK_MS },
        // A job's lease is its agent's time limit (2 s, below) plus leaseMarginMs.
        mailin: { worker: { pollIntervalMs: 100, leaseMarginMs: 500 }, retry: { scheduleMs: [200] }, webhook: { allowHosts: ['127.0.0.1'], allowLoopbackTargets: true } },
      };
      const path = join(dataDir, 'postamt.yaml');
      writeFileSync(path, JSON.stringify(cfg, null, 2)); // JSON is YAML
      return { path, dataDir };
    });
    // Set-up through the CLI against the shared database, as an operator does it once.
    const cli = (args: string[], input?: string) => postamt(args, { config: configs[0]!.path, check: true, ...(input ? { input } : {}) });
    await cli(['domain', 'add', DOMAIN]);
    for (const user of ['box', 'reader', 'sender']) await cli(['account', 'add', `${user}@${DOMAIN}`, '--password-stdin'], PASSWORD);
    await cli(['mailin', 'add', HOOKS, '--name', 'hooks']);
    await cli(['mailin', 'agent', 'add', HOOKS, '--trigger', 'after-delivery', '--webhook', receiver.url, '--secret', 'a webhook secret of some length', '--timeout-ms', '2000']);
    // Started together: they also race for the (already applied) migrations.
    const started = await Promise.allSettled(configs.map((c) => spawnPostamt(['-c', c.path, 'serve'], c.dataDir)));
    for (const s of started) if (s.status === 'fulfilled') nodes.push({ proc: s.value, port: (name) => s.value.endpoints[name]!.port });
    const failed = started.find((s) => s.status === 'rejected');
    if (failed) throw failed.reason;
    sql = new pg.Client({ connectionString: db.url });
    await sql.connect();
  });

  after(async () => {
    for (const n of nodes) if (n.proc.child.exitCode === null && n.proc.child.signalCode === null) n.proc.child.kill('SIGTERM');
    const ends = await Promise.all(nodes.map((n) => n.proc.exited));
    await sql?.end();
    await sink?.close();
    await receiver?.close();
    await db?.drop();
    dir.cleanup();
    for (const [i, e] of ends.entries()) if (e.signal !== 'SIGKILL') assert.equal(e.code, 0, `node ${i + 1} shuts down cleanly on SIGTERM`);
  });

  const skip = (t: { skip(m: string): void }): boolean => {
    if (db) return false;
    t.skip('POSTAMT_TEST_SKIP_PG=1: PostgreSQL tests skipped explicitly');
    return true;
  };

  test('a. mail accepted on node 1 is retrieved byte-exact over POP3 on nodes 2 and 3 at once', async (t) => {
    if (skip(t)) return;
    const body = message('a-1', `reader@${DOMAIN}`, 200);
    assert.ok(await sendMx(nodes[0]!.port('smtp-mx'), `reader@${DOMAIN}`, body), '250 from node 1');
    // Right after the 250, with no wait: both other nodes list and return it.
    const [on2, on3] = await Promise.all([popAll(nodes[1]!, `reader@${DOMAIN}`), popAll(nodes[2]!, `reader@${DOMAIN}`)]);
    for (const seen of [on2, on3]) {
      assert.equal(seen.get('a-1')?.length, 1, 'listed once');
      assert.deepEqual(seen.get('a-1')![0], body, 'byte-identical after the trace headers');
    }
  });

  test('b. relay rows and mail-in jobs are worked by any node, each exactly once', async (t) => {
    if (skip(t)) return;
    const N = 24;
    const M = 12;
    const relayIds = Array.from({ length: N }, (_, n) => `<b-relay-${n}@${DOMAIN}>`);
    const subs = nodes.map(submitter);
    try {
      await Promise.all(relayIds.map((id, n) => subs[n % 3]!.send(n, id)));
    } finally {
      for (const s of subs) s.close();
    }
    const hookKeys = Array.from({ length: M }, (_, n) => `b-hook-${n}`);
    await Promise.all(hookKeys.map(async (key, n) => assert.ok(await sendMx(nodes[n % 3]!.port('smtp-mx'), HOOKS, message(key, HOOKS)), `${key} accepted`)));

    await until('every relayed message at the sink', () => relayIds.every((id) => sink.count(id) > 0), 30_000);
    await receiver.waitForCalls(M, 30_000);
    // Once the queues hold nothing unsettled, no further delivery or call can come.
    await until('relay queue empty', async () => (await sql.query('select count(*)::int as n from relay_queue')).rows[0].n === 0, 30_000);
    await until('mail-in jobs all done', async () => (await sql.query("select count(*)::int as n from mailin_jobs where state <> 'done'")).rows[0].n === 0, 30_000);

    for (const id of relayIds) assert.equal(sink.count(id), 1, `${id} delivered once`);
    const byNode = new Map<string, number>();
    for (const d of sink.delivered) if (relayIds.includes(d.messageId)) byNode.set(d.helo, (byNode.get(d.helo) ?? 0) + 1);
    t.diagnostic(`relay deliveries by node: ${JSON.stringify(Object.fromEntries(byNode))}`);
    assert.ok(byNode.size >= 2, 'more than one node delivered');
    for (const h of byNode.keys()) assert.ok([0, 1, 2].map(helo).includes(h), `${h} is one of the nodes`);

    const calls = new Map<string, number>();
    for (const c of receiver.calls) {
      const id = String(c.json.messageId);
      calls.set(id, (calls.get(id) ?? 0) + 1);
    }
    for (const key of hookKeys) assert.equal(calls.get(`<${key}@${DOMAIN}>`), 1, `${key}: one webhook call`);
    for (const key of hookKeys) assert.equal(answered.get(`<${key}@${DOMAIN}>`), 1, `${key}: answered once`);
    assert.equal(receiver.calls.length, M, 'no other calls');
    assert.equal(new Set(receiver.calls.map((c) => c.headers['idempotency-key'])).size, M, 'one idempotency key per call');
  });

  test('d. a directory change through node 1 is answered by LDAP on nodes 2 and 3 within cacheCheckMs', async (t) => {
    if (skip(t)) return;
    const tid = '1-2001multinode';
    // Both nodes have answered "no such entry" before the change (their caches are warm).
    for (const n of [nodes[1]!, nodes[2]!]) assert.equal(await ldapFinds(n, tid), false);
    const res = await fetch(`http://127.0.0.1:${nodes[0]!.port('http')}/api/directory/entries`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ADMIN_TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ attributes: { telematikID: tid, displayName: 'Praxis Mehrknoten', mail: [`praxis@${DOMAIN}`] } }),
    });
    assert.equal(res.status, 201, await res.text());
    const changed = Date.now();
    const took = await Promise.all(
      [nodes[1]!, nodes[2]!].map(async (n) => {
        await until('the new entry over LDAP', () => ldapFinds(n, tid), CACHE_CHECK_MS + 5000);
        return Date.now() - changed;
      }),
    );
    t.diagnostic(`entry visible on node 2 after ${took[0]} ms, node 3 after ${took[1]} ms (cacheCheckMs ${CACHE_CHECK_MS})`);
    // One check interval plus the poll's own round trips (an LDAP connection each, a loaded machine).
    for (const ms of took) assert.ok(ms <= CACHE_CHECK_MS + 800, `visible after ${ms} ms`);

    // And its removal, the same way.
    const del = await fetch(`http://127.0.0.1:${nodes[0]!.port('http')}/api/directory/entries/${tid}`, { method: 'DELETE', headers: { authorization: `Bearer ${ADMIN_TOKEN}` } });
    assert.equal(del.status, 204, await del.text());
    const removed = Date.now();
    const gone = await Promise.all(
      [nodes[1]!, nodes[2]!].map(async (n) => {
        await until('the entry gone from LDAP', async () => !(await ldapFinds(n, tid)), CACHE_CHECK_MS + 5000);
        return Date.now() - removed;
      }),
    );
    t.diagnostic(`removal visible on node 2 after ${gone[0]} ms, node 3 after ${gone[1]} ms`);
    for (const ms of gone) assert.ok(ms <= CACHE_CHECK_MS + 800, `gone after ${ms} ms`);
  });

  test('c. a node SIGKILLed under SMTP load loses no 250-ed message, and its relay and mail-in leases pass to the others', async (t) => {
    if (skip(t)) return;
    const [n1, n2, n3] = nodes as [Node, Node, Node];
    // Node 1's relay transactions are held after their data: it keeps those rows leased.
    sink.holdHelo = helo(0);
    const relayIds = Array.from({ length: 6 }, (_, n) => `<c-relay-${n}@${DOMAIN}>`);
    // A mail-in message to node 1 whose first webhook call is never answered: its job stays leased.
    const hookId = `<c-hook@${DOMAIN}>`;
    hang.add(hookId);

    const accepted = new Map<string, Buffer>();
    const stop = { now: false };
    const sender = async (node: Node, id: number): Promise<void> => {
      let c: RawSmtpClient;
      try {
        c = await RawSmtpClient.connect(node.port('smtp-mx'));
        await c.readReply();
        await c.cmd('EHLO load.remote.test');
      } catch {
        return;
      }
      for (let n = 0; !stop.now; n++) {
        const key = `c-s${id}-m${n}`;
        const body = message(key, `box@${DOMAIN}`);
        try {
          if ((await c.cmd('MAIL FROM:<load@remote.test>')).code !== 250) break;
          if ((await c.cmd(`RCPT TO:<box@${DOMAIN}>`)).code !== 250) break;
          if ((await c.cmd('DATA')).code !== 354) break;
          c.write(Buffer.concat([body, Buffer.from('.\r\n')]));
          if ((await c.readReply(10_000)).code === 250) accepted.set(key, body);
        } catch {
          return; // the node died mid-transaction: this message was never acknowledged
        }
      }
      c.close();
    };
    const senders = [n1, n1, n1, n2, n2, n3, n3].map((node, i) => sender(node, i));

    await until('some load accepted', () => accepted.size >= 40, 30_000);
    assert.ok(await sendMx(n1.port('smtp-mx'), HOOKS, message('c-hook', HOOKS)), 'mail-in message accepted by node 1');
    const sub = submitter(n1);
    try {
      await Promise.all(relayIds.map((id, n) => sub.send(100 + n, id)));
    } finally {
      sub.close();
    }
    // Every relay message is either held open by node 1 or was taken by another node; kill at
    // once, well inside node 1's dataTimeoutMs, so that it still holds those leases.
    await until('node 1 holding its relay transactions', () => sink.held.length > 0 && relayIds.every((id) => sink.held.some((h) => h.messageId === id) || sink.count(id) > 0), 10_000);
    await until('the webhook call held', () => receiver.calls.some((c) => c.json.messageId === hookId), 10_000);
    const heldByNode1 = relayIds.filter((id) => sink.count(id) === 0);
    const killedAt = Date.now();
    n1.proc.child.kill('SIGKILL');
    assert.equal((await n1.proc.exited).signal, 'SIGKILL');
    const acceptedAtKill = accepted.size;
    await until('more load accepted by the survivors', () => accepted.size >= acceptedAtKill + 20, 30_000);
    stop.now = true;
    await Promise.all(senders);
    t.diagnostic(`${accepted.size} messages got 250, ${heldByNode1.length} relay messages held by node 1 at the kill`);
    assert.ok(heldByNode1.length > 0, 'node 1 held relay rows when it died');

    // Everything that got 250 is there, once and byte-exact, on a surviving node.
    const seen = await popAll(n2, `box@${DOMAIN}`);
    for (const [key, body] of accepted) {
      assert.equal(seen.get(key)?.length, 1, `acknowledged ${key} is there once`);
      assert.deepEqual(seen.get(key)![0], body, `${key} is byte-identical`);
    }
    for (const [key, copies] of seen) if (key.startsWith('c-')) assert.equal(copies.length, 1, `${key} is not duplicated`);

    // Node 1's leases run out; the others then deliver each of those messages.
    await until('the held relay messages delivered by the others', () => relayIds.every((id) => sink.count(id) > 0), RELAY.leaseMs + 15_000);
    await until('relay queue empty', async () => (await sql.query('select count(*)::int as n from relay_queue')).rows[0].n === 0, 10_000);
    for (const id of relayIds) {
      // Node 1's held transactions never got 250, so "delivered" counts only the takeover:
      // exactly once, by a survivor, and not before node 1's lease could have expired.
      const ds = sink.delivered.filter((d) => d.messageId === id);
      assert.equal(ds.length, 1, `${id} delivered exactly once`);
      if (!heldByNode1.includes(id)) continue;
      assert.notEqual(ds[0]!.helo, helo(0));
      const heldAt = Math.min(...sink.held.filter((h) => h.messageId === id).map((h) => h.at));
      // The claim precedes the held data by at most connect + 9 replies (timeoutMs each).
      assert.ok(ds[0]!.at - heldAt >= RELAY.leaseMs - 10 * RELAY.timeoutMs, `${id} taken over only after the lease (${ds[0]!.at - heldAt} ms after node 1 held it)`);
    }
    // The mail-in job: its held call is made again by a survivor once the lease is over; the
    // receiver answered exactly one call, and saw at most the held one besides.
    await until('the mail-in job done', async () => (await sql.query("select count(*)::int as n from mailin_jobs where state <> 'done'")).rows[0].n === 0, 15_000);
    assert.equal(answered.get(hookId), 1, 'the mail-in call answered once');
    const hookCalls = receiver.calls.filter((c) => c.json.messageId === hookId);
    assert.equal(hookCalls.length, 2, 'the held call and the takeover');
    assert.equal(hookCalls[0]!.headers['idempotency-key'], hookCalls[1]!.headers['idempotency-key'], 'the repeated call carries the same Idempotency-Key');
    t.diagnostic(`held messages delivered ${Math.max(...sink.delivered.filter((d) => heldByNode1.includes(d.messageId)).map((d) => d.at)) - killedAt} ms after the kill`);
  });
});
