/**
 * `npm run bench:integration`: the Application Integration endpoint of a real `postamt serve`.
 * - cmd=list with 100,000 accounts (SQLite): time to last byte, bytes, and the server's peak
 *   RSS (VmHWM) before and after — a streamed list must leave it flat;
 * - cmd=auth requests/s at 16 concurrent clients against the platform's scrypt hashes, with
 *   the cost of one scrypt verification (and scrypt alone at 16 in parallel) measured on its own.
 * Accounts are seeded in bulk with one precomputed hash (hashing 100,000 passwords would take hours).
 */
import { request } from 'node:http';
import { join, dirname } from 'node:path';
import Sqlite from 'better-sqlite3';
import { startBenchServer, percentile } from './lib/server.js';
import { hashPassword, verifyPassword } from '../src/service/index.js';

const USERS = Number(process.env.BENCH_USERS ?? 100_000);
const AUTH_CONCURRENCY = 16;
const AUTH_SECONDS = Number(process.env.BENCH_AUTH_SECONDS ?? 5);
const PASSWORD = 'bench-password-1';
const CRED = 'Basic ' + Buffer.from('mailstore:bench-integration-pw').toString('base64');

function post(port: number, body: string): Promise<{ status: number; bytes: number; ms: number; text?: string }> {
  const t0 = performance.now();
  return new Promise((resolve, reject) => {
    const req = request(
      { host: '127.0.0.1', port, path: '/mailstore-integration/', method: 'POST', agent: false, headers: { authorization: CRED, 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(body) } },
      (res) => {
        let bytes = 0;
        const keep: Buffer[] = [];
        res.on('data', (c: Buffer) => {
          bytes += c.length;
          if (bytes < 4096) keep.push(c);
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, bytes, ms: performance.now() - t0, text: Buffer.concat(keep).toString() }));
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

async function main(): Promise<void> {
  const hash = await hashPassword(PASSWORD); // production cost (ln=15)
  const server = await startBenchServer(
    [{ address: 'user000000@bench.test', password: PASSWORD }],
    'integration:\n  enabled: true\n  credentials: { user: mailstore, password: bench-integration-pw }\n  userThrottle: { freeFailures: 1000000 }\n  clientThrottle: { freeFailures: 1000000 }\n',
    async (cfg) => {
      const t0 = performance.now();
      const db = new Sqlite(join(dirname(cfg), 'postamt.db'));
      const ins = db.prepare('INSERT INTO accounts (address, domain, display_name, password_hash, quota_bytes, used_bytes, disabled, created_at) VALUES (?, ?, ?, ?, 0, 0, 0, ?)');
      const now = Date.now();
      db.transaction(() => {
        for (let i = 1; i < USERS; i++) {
          const n = String(i).padStart(6, '0');
          ins.run(`user${n}@bench.test`, 'bench.test', `Praxis Dr. Muster ${n}`, hash, now);
        }
      })();
      db.prepare('UPDATE accounts SET password_hash = ?').run(hash);
      db.close();
      console.log(`seeded ${USERS} accounts in ${Math.round(performance.now() - t0)} ms`);
    },
  );
  const port = server.endpoints.http!.port;
  try {
    const rssBefore = server.peakRssMiB();
    // One run to warm up (page cache, JIT), then the measured ones.
    const warm = await post(port, 'cmd=list');
    if (warm.status !== 200) throw new Error(`list answered ${warm.status}: ${warm.text}`);
    const runs: number[] = [];
    let bytes = 0;
    for (let i = 0; i < 5; i++) {
      const r = await post(port, 'cmd=list');
      runs.push(r.ms);
      bytes = r.bytes;
    }
    runs.sort((a, b) => a - b);
    const rssAfter = server.peakRssMiB();
    console.log(`\ncmd=list, ${USERS} users (${(bytes / 1024 / 1024).toFixed(1)} MiB JSON), time to last byte over 5 runs:`);
    console.log(`  best ${runs[0]!.toFixed(0)} ms, median ${percentile(runs, 50).toFixed(0)} ms, worst ${runs[runs.length - 1]!.toFixed(0)} ms  (${Math.round(USERS / (percentile(runs, 50) / 1000)).toLocaleString('en')} users/s)`);
    console.log(`  server peak RSS: ${rssBefore.toFixed(0)} MiB after start, ${rssAfter.toFixed(0)} MiB after 6 lists (+${(rssAfter - rssBefore).toFixed(0)} MiB)`);

    // scrypt alone: one at a time, then 16 in parallel on this process's thread pool.
    const one: number[] = [];
    for (let i = 0; i < 10; i++) {
      const t = performance.now();
      await verifyPassword(PASSWORD, hash);
      one.push(performance.now() - t);
    }
    one.sort((a, b) => a - b);
    let parallel = 0;
    const tp = performance.now();
    await Promise.all(
      Array.from({ length: AUTH_CONCURRENCY }, async () => {
        while (performance.now() - tp < 3000) {
          await verifyPassword(PASSWORD, hash);
          parallel++;
        }
      }),
    );
    const scryptRate = parallel / ((performance.now() - tp) / 1000);
    console.log(`\nscrypt (ln=15, r=8, p=1) verification alone: median ${percentile(one, 50).toFixed(1)} ms; ${scryptRate.toFixed(1)}/s with ${AUTH_CONCURRENCY} in parallel (UV_THREADPOOL_SIZE=${process.env.UV_THREADPOOL_SIZE ?? 4})`);

    // The endpoint: 16 clients, each sending the next cmd=auth when the last is answered.
    const lat: number[] = [];
    let ok = 0;
    let fail = 0;
    const t0 = performance.now();
    await Promise.all(
      Array.from({ length: AUTH_CONCURRENCY }, async (_v, w) => {
        let i = w;
        while (performance.now() - t0 < AUTH_SECONDS * 1000) {
          const n = String(i % USERS).padStart(6, '0');
          i += AUTH_CONCURRENCY;
          const r = await post(port, `cmd=auth&user=user${n}%40bench.test&pass=${PASSWORD}`);
          lat.push(r.ms);
          if (r.status === 200 && r.text?.includes('true')) ok++;
          else fail++;
        }
      }),
    );
    const secs = (performance.now() - t0) / 1000;
    lat.sort((a, b) => a - b);
    console.log(`\ncmd=auth at ${AUTH_CONCURRENCY} concurrent clients for ${AUTH_SECONDS} s: ${(ok / secs).toFixed(1)} requests/s (${ok} succeeded, ${fail} other)`);
    console.log(`  latency p50 ${percentile(lat, 50).toFixed(0)} ms, p99 ${percentile(lat, 99).toFixed(0)} ms — bounded by scrypt (above), not by HTTP`);
  } finally {
    await server.stop();
  }
}

process.env.UV_THREADPOOL_SIZE ??= '16';
await main();
