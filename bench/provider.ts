/**
 * npm run bench:provider — the provider's KIM interfaces and its retention job (issue 22).
 *   1. getLimits (KIMBasicAuth) and getAccount (the Account Manager: an SMC-B-signed JWT, one per
 *      call as the replay protection wants, plus the account's password) per second with 16
 *      concurrent keep-alive HTTP clients, beside GET /healthz of the same server and the same
 *      clients (target: each at least 50 % of /healthz). The JWTs are signed before the run by a
 *      software Konnektor with a test SMC-B, as test/http/account-manager.test.ts builds them, so
 *      the clients' RSA signatures are not in the figure.
 *   2. The retention job deleting 100,000 expired messages (received 100 days ago, distinct
 *      blobs, written into the store before the server starts): how long its run takes, and the
 *      SMTP ingest (16 sessions, reused, 10 KiB messages) during the run against the same load
 *      after it (target: at least 80 %).
 *   BENCH_HTTP_CALLS=20000 BENCH_JWTS=5000 BENCH_EXPIRED=100000 npm run bench:provider
 */
import http from 'node:http';
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { startBenchServer, type BenchServer } from './lib/server.js';
import { smtpLoad } from './lib/smtp-load.js';
import { paddedMessage } from './lib/message.js';
import { loadConfig } from '../src/config/index.js';
import { FileBlobStore, openStore, writeBlob, type BlobStore } from '../src/store/index.js';
import { SoftwareKonnektor, cardLoaderFromFiles, createTestPki, type KonnektorContext } from '../src/crypto/index.js';
import { accountManagerJwt } from '../src/clientmodule/account-manager-jwt.js';

const CALLS = Number(process.env.BENCH_HTTP_CALLS ?? 20_000);
const JWTS = Number(process.env.BENCH_JWTS ?? 5000);
const EXPIRED = Number(process.env.BENCH_EXPIRED ?? 100_000);
const CONCURRENCY = 16;
const ADDRESS = 'praxis@bench.test';
const PASSWORD = 'bench password 1';
const CTX: KonnektorContext = { mandantId: 'p', clientSystemId: 'CM', workplaceId: '1' };
const DAY_MS = 86_400_000;

const row = (k: string, v: string) => console.log(`  ${k.padEnd(48)} ${v}`);

/** `n` GETs over `concurrency` keep-alive connections; every answer must be `status`. Returns calls/s. */
async function httpLoad(o: { port: number; n: number; path: string; headers(i: number): http.OutgoingHttpHeaders; status: number }): Promise<number> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  let next = 0;
  const one = (i: number) =>
    new Promise<void>((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: o.port, path: o.path, agent, headers: o.headers(i) }, (res) => {
        res.resume();
        res.on('end', () => (res.statusCode === o.status ? resolve() : reject(new Error(`${o.path}: ${res.statusCode}, not ${o.status}`))));
      });
      req.on('error', reject);
      req.end();
    });
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      for (let i = next++; i < o.n; i = next++) await one(i);
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  agent.destroy();
  return o.n / seconds;
}

async function interfaces(): Promise<void> {
  let konnektor: SoftwareKonnektor | undefined;
  const server = await startBenchServer([{ address: ADDRESS, password: PASSWORD, telematikId: '1-20014711' }], '  kim:\n    accountManager: { trustAnchors: [pki/ca.pem] }\n', async (cfg) => {
    const dir = dirname(cfg);
    await createTestPki({ dir: join(dir, 'pki'), practices: [{ id: 'praxis', name: 'Bench Praxis', telematikId: '1-20014711', email: ADDRESS }], tlsNames: ['localhost'] });
    konnektor = new SoftwareKonnektor({ mandanten: [{ id: 'p', clientSystems: ['CM'], workplaces: ['*'], smcb: cardLoaderFromFiles({ dir: 'pki/praxis' }, dir) }], trustAnchors: [] });
  });
  try {
    const port = server.endpoints.http!.port;
    const basic = `Basic ${Buffer.from(`${ADDRESS}:${PASSWORD}`).toString('base64')}`;
    const accountPath = `/AccountMgmt/v2.4/account/${encodeURIComponent(ADDRESS)}`;
    const password = Buffer.from(PASSWORD).toString('base64');
    const t0 = performance.now();
    const jwts: string[] = [];
    for (let i = 0; i < JWTS + 1; i++) jwts.push(await accountManagerJwt(konnektor!, CTX));
    console.log(`bench:provider — ${CONCURRENCY} keep-alive clients; ${JWTS} JWTs signed beforehand in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    // Warm-up: the first login fills the service's login cache (scrypt once), as a client module's first call does.
    await httpLoad({ port, n: 1, path: '/AccountLimit/v1.1/limit', headers: () => ({ authorization: basic }), status: 200 });
    await httpLoad({ port, n: 1, path: accountPath, headers: () => ({ authorization: `Bearer ${jwts[JWTS]!}`, password }), status: 200 });
    await httpLoad({ port, n: Math.min(CALLS, 2000), path: '/healthz', headers: () => ({}), status: 200 });

    const cpu0 = server.cpuMs();
    const healthz = await httpLoad({ port, n: CALLS, path: '/healthz', headers: () => ({}), status: 200 });
    const cpu1 = server.cpuMs();
    const limits = await httpLoad({ port, n: CALLS, path: '/AccountLimit/v1.1/limit', headers: () => ({ authorization: basic }), status: 200 });
    const cpu2 = server.cpuMs();
    const account = await httpLoad({ port, n: JWTS, path: accountPath, headers: (i) => ({ authorization: `Bearer ${jwts[i]!}`, password }), status: 200 });
    const cpu3 = server.cpuMs();
    console.log('\nHTTP calls per second (16 clients, keep-alive)');
    row('GET /healthz  calls/s (server CPU ms/call)', `${healthz.toFixed(0)} (${((cpu1 - cpu0) / CALLS).toFixed(3)})`);
    row('getLimits     calls/s (server CPU ms/call)', `${limits.toFixed(0)} (${((cpu2 - cpu1) / CALLS).toFixed(3)})`);
    row('getAccount    calls/s (server CPU ms/call)', `${account.toFixed(0)} (${((cpu3 - cpu2) / JWTS).toFixed(3)})`);
    row('getLimits / healthz (target ≥ 50 %)', `${((limits / healthz) * 100).toFixed(0)} %`);
    row('getAccount / healthz (target ≥ 50 %)', `${((account / healthz) * 100).toFixed(0)} %`);
  } finally {
    await server.stop();
  }
}

/**
 * A blob as the files backend stores it (content-addressed, FileBlobStore.pathOf), without the
 * two disk syncs per blob of the delivery path: with them the fill alone took minutes on this
 * disk, and it is the job's deletions, not the fill, that the bench measures.
 */
async function fillBlob(blobs: BlobStore, data: Buffer): Promise<{ hash: string; size: number }> {
  if (!(blobs instanceof FileBlobStore)) return writeBlob(blobs, data);
  const hash = createHash('sha256').update(data).digest('hex');
  const path = blobs.pathOf(hash);
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, data);
  return { hash, size: data.length };
}

/** Writes `n` messages received 100 days ago into the account's mailbox, each with a blob of its own. */
async function expiredMessages(cfg: string, address: string, n: number): Promise<void> {
  const { config } = loadConfig(cfg, {});
  const store = await openStore(config);
  try {
    const account = await store.db.selectFrom('accounts').select('id').where('address', '=', address).executeTakeFirstOrThrow();
    const old = Date.now() - 100 * DAY_MS;
    let bytes = 0;
    for (let i = 0; i < n; i += 500) {
      const blobs = await Promise.all(
        Array.from({ length: Math.min(500, n - i) }, (_, k) => fillBlob(store.blobs, Buffer.from(`From: old@remote.test\r\nTo: ${address}\r\nSubject: expired ${i + k}\r\n\r\n${'x'.repeat(1024)}\r\n`))),
      );
      await store.db
        .insertInto('messages')
        .values(blobs.map((b, k) => ({ account_id: account.id, blob_hash: b.hash, size: b.size, received_at: old + i + k })))
        .execute();
      bytes += blobs.reduce((s, b) => s + b.size, 0);
    }
    await store.db.updateTable('accounts').set({ used_bytes: bytes }).where('id', '=', account.id).execute();
  } finally {
    await store.close();
  }
}

async function metric(server: BenchServer, name: string): Promise<number> {
  const h = server.endpoints.http!;
  const text = await (await fetch(`http://${h.host}:${h.port}/metrics`)).text();
  return Number(new RegExp(`^${name}(?:\\{\\})? (\\d+)`, 'm').exec(text)?.[1] ?? 0);
}

async function retention(): Promise<void> {
  let fillSeconds = 0;
  const server = await startBenchServer(
    [
      { address: 'old@bench.test', password: PASSWORD },
      { address: 'box@bench.test', password: PASSWORD },
    ],
    '',
    async (cfg) => {
      const t0 = performance.now();
      await expiredMessages(cfg, 'old@bench.test', EXPIRED);
      fillSeconds = (performance.now() - t0) / 1000;
    },
  );
  try {
    console.log(`\nretention: ${EXPIRED} expired messages (1 KiB, a blob each) written in ${fillSeconds.toFixed(1)} s; the job's first run starts 5 s after the server`);
    const message = (i: number): Buffer => paddedMessage(`From: load@remote.test\r\nTo: box@bench.test\r\nSubject: retention bench ${i}\r\n\r\n`, 10 * 1024);
    const smtp = { port: server.endpoints['smtp-mx']!.port, concurrency: CONCURRENCY, rcpt: 'box@bench.test' };
    const accepted: number[] = [];
    let done = false;
    // SMTP load from the start until the run is over; the run's window is read from /metrics below.
    const load = smtpLoad({ ...smtp, n: Number.MAX_SAFE_INTEGER, message, accepted: (_i, at) => accepted.push(at), until: () => done });
    let start = performance.now();
    let end = 0;
    for (;;) {
      const deleted = await metric(server, 'postamt_retention_deleted_total');
      const now = performance.now();
      if (deleted === 0) start = now;
      if (deleted >= EXPIRED) {
        end = now;
        break;
      }
      await new Promise((r) => setTimeout(r, 50)); // the bench's clock for the metric; not a test
    }
    done = true;
    await load;
    const runSeconds = (end - start) / 1000;
    const during = accepted.filter((t) => t >= start && t <= end).length / runSeconds;
    // The same load for as long again, after the run: the ingest without the job.
    const after = await smtpLoad({ ...smtp, n: Math.max(2000, Math.ceil(during * runSeconds)), message: (i) => message(1_000_000 + i) });
    const without = (after.latencies.length - after.failed) / after.seconds;
    row(`retention run, ${EXPIRED} deleted (s, from /metrics)`, `${runSeconds.toFixed(1)} (${(EXPIRED / runSeconds).toFixed(0)} msgs/s)`);
    row('SMTP ingest during the run (msgs/s)', during.toFixed(0));
    row('SMTP ingest after it (msgs/s)', without.toFixed(0));
    row('during / without (target ≥ 80 %)', `${((during / without) * 100).toFixed(0)} %`);
    const line = await Promise.race([server.waitForLog('retention: deleted messages'), new Promise<string>((r) => setTimeout(() => r(''), 2000))]);
    if (line) row("the job's own log line", line.replace(/^.*?"deleted"/, '{"deleted"'));
  } finally {
    await server.stop();
  }
}

await interfaces();
await retention();
