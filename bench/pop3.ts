/**
 * npm run bench:pop3 — concurrent POP3 sessions retrieving 10 KB messages, one command at a
 * time (no pipelining, as most clients do), from mailboxes of 8,000 messages. Two modes:
 *   long   — each session logs in once and RETRs 1,000 messages;
 *   logins — each session logs in, RETRs 50, QUITs, and does so again (20 times), so the
 *            login (and the maildrop listing) is part of every 50 messages.
 * Prints msgs/s and the latency of one RETR (p50/p99) per mode. Messages are put in place
 * straight into the store first (not timed).
 *   BENCH_MODES=long,logins BENCH_SESSIONS=8 BENCH_MESSAGES=8000 BENCH_BOXES=2 npm run bench:pop3
 *   BENCH_LOGIN_CACHE=0 turns the service's login cache off (service.loginCache.ttlMs: 0).
 *   BENCH_WARMUP=1000 RETRs per session, untimed, before the modes (both servers; 0: none):
 *   the figures are a running server's, not its first second (Node's JIT; Dovecot's indexes).
 */
import { Pop3LoadClient } from './lib/line-client.js';
import { loadConfig } from '../src/config/index.js';
import { openStore } from '../src/store/index.js';
import { Accounts, Mailboxes } from '../src/service/index.js';
import { percentile, startBenchServer } from './lib/server.js';
import { clearMaildir, dovecotPeer, maildirCount, PEER_MAILDIR } from './lib/peers.js';
import { chownSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { paddedMessage } from './lib/message.js';

const PER_BOX = Number(process.env.BENCH_MESSAGES ?? 8000);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 8);
const BOXES = Number(process.env.BENCH_BOXES ?? 1);
const LONG = Number(process.env.BENCH_LONG ?? 1000);
const SHORT = Number(process.env.BENCH_SHORT ?? 50);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const MODES = (process.env.BENCH_MODES ?? 'long,logins').split(',');
const LOGIN_CACHE = process.env.BENCH_LOGIN_CACHE !== '0';
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1000);
const SIZE = 10 * 1024;
const PASSWORD = 'bench password 1';

function message(i: number, box: string): Buffer {
  const head = `From: load@remote.test\r\nTo: ${box}\r\nSubject: pop bench ${i}\r\n\r\n`;
  return paddedMessage(head, SIZE, '');
}

/** Files the messages straight into the store (not timed; SMTP is bench:smtp's business). */
async function fill(configFile: string, boxes: string[]): Promise<void> {
  const { config } = loadConfig(configFile);
  const store = await openStore(config);
  try {
    const accounts = new Accounts(store.db, store.blobs);
    const mailboxes = new Mailboxes(store.db, store.blobs);
    for (const box of boxes) {
      const account = await accounts.get(box);
      // A few at once so the group commit shares fsyncs; order within the box does not matter.
      const LANES = 16;
      await Promise.all(
        Array.from({ length: LANES }, async (_, lane) => {
          for (let i = lane; i < PER_BOX; i += LANES) {
            const w = await store.blobs.writer();
            await w.write(message(i, box));
            await mailboxes.file(await w.commit(), [account.id]);
          }
        }),
      );
    }
  } finally {
    await store.close();
  }
}

function fillInChild(configFile: string, boxes: string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [fileURLToPath(import.meta.url)], { env: { ...process.env, BENCH_POP3_FILL: JSON.stringify({ configFile, boxes }) }, stdio: 'inherit' });
    child.once('error', reject);
    child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`the fill exited with ${code}`))));
  });
}

/** Logs in (USER, PASS, STAT one after the other) and returns the session with its message count. */
async function login(port: number, box: string, password = PASSWORD): Promise<{ c: Pop3LoadClient; n: number }> {
  const c = await Pop3LoadClient.connect(port);
  await c.status();
  c.write(`USER ${box}\r\n`);
  await c.status();
  c.write(`PASS ${password}\r\n`);
  const ok = await c.status();
  if (!ok.startsWith('+OK')) throw new Error(`login failed: ${ok}`);
  c.write('STAT\r\n');
  const n = Number((await c.status()).split(' ')[1]);
  return { c, n };
}

interface Tally {
  msgs: number;
  bytes: number;
  /** Per RETR, ms from the command written to the last byte of its answer. */
  latencies: number[];
}

/** RETRs messages first..first+count-1 (wrapping inside the mailbox), one at a time, then QUIT. */
async function retrieve(s: { c: Pop3LoadClient; n: number }, first: number, count: number, t: Tally): Promise<void> {
  for (let k = 0; k < count; k++) {
    const msg = ((first + k) % s.n) + 1;
    const t0 = performance.now();
    s.c.write(`RETR ${msg}\r\n`);
    const n = await s.c.multi(); // not `t.bytes += await …`: that reads t.bytes before the await
    t.bytes += n;
    t.latencies.push(performance.now() - t0);
    t.msgs++;
  }
  s.c.write('QUIT\r\n');
  await s.c.status();
  s.c.close();
}

async function runMode(mode: string, port: number, boxes: string[]): Promise<Array<[string, string]>> {
  const t: Tally = { msgs: 0, bytes: 0, latencies: [] };
  const box = (i: number) => boxes[i % boxes.length]!;
  // Sessions on one mailbox read different parts of it: the bench is not a cache test.
  const offset = (i: number) => Math.floor(i / boxes.length) * LONG;
  let logins = 0;
  const t0 = performance.now();
  if (mode === 'long') {
    const sessions = await Promise.all(Array.from({ length: SESSIONS }, (_, i) => login(port, box(i))));
    logins = SESSIONS;
    const tr = performance.now();
    await Promise.all(sessions.map((s, i) => retrieve(s, offset(i), LONG, t)));
    const secs = (performance.now() - tr) / 1000;
    return rows(mode, t, secs, logins, (tr - t0) / 1000);
  }
  await Promise.all(
    Array.from({ length: SESSIONS }, async (_, i) => {
      for (let r = 0; r < ROUNDS; r++) {
        const s = await login(port, box(i));
        logins++;
        await retrieve(s, offset(i) + r * SHORT, SHORT, t);
      }
    }),
  );
  return rows(mode, t, (performance.now() - t0) / 1000, logins, undefined);
}

/** The untimed pass before the modes: every session logs in once and RETRs WARMUP messages. */
async function warmUp(port: number, boxes: string[]): Promise<void> {
  if (WARMUP <= 0) return;
  const t: Tally = { msgs: 0, bytes: 0, latencies: [] };
  const sessions = await Promise.all(Array.from({ length: SESSIONS }, (_, i) => login(port, boxes[i % boxes.length]!)));
  await Promise.all(sessions.map((s, i) => retrieve(s, i * WARMUP, WARMUP, t)));
}

/** This process's CPU (the load generator) as % of one core since `since`. */
function generatorCpu(since: NodeJS.CpuUsage, secs: number): string {
  const u = process.cpuUsage(since);
  return ((u.user + u.system) / 1e4 / secs).toFixed(0);
}

function rows(mode: string, t: Tally, secs: number, logins: number, loginSecs: number | undefined): Array<[string, string]> {
  const lat = [...t.latencies].sort((a, b) => a - b);
  const label = mode === 'long' ? `long (1 login, ${LONG} RETR per session)` : `logins (login + ${SHORT} RETR + QUIT, ${ROUNDS}x per session)`;
  return [
    [`[${label}]`, ''],
    ['  logins', String(logins) + (loginSecs !== undefined ? ` (${loginSecs.toFixed(3)} s, not in msgs/s)` : ' (inside the timed run)')],
    ['  messages retrieved', String(t.msgs)],
    ['  retrieved msgs/s', (t.msgs / secs).toFixed(0)],
    ['  MB/s', (t.bytes / secs / 1e6).toFixed(1)],
    ['  RETR latency p50 / p99 (ms)', `${percentile(lat, 50).toFixed(3)} / ${percentile(lat, 99).toFixed(3)}`],
  ];
}

async function main(): Promise<void> {
  const boxes = Array.from({ length: BOXES }, (_, i) => ({ address: `box${i}@bench.test`, password: PASSWORD }));
  console.log(`bench:pop3 (Postamt) — ${SESSIONS} concurrent sessions over ${BOXES} mailboxes of ${PER_BOX} messages of ${SIZE / 1024} KB, plain POP3 on loopback, one command at a time (no pipelining)`);
  console.log(`login cache: ${LOGIN_CACHE ? 'on (service.loginCache defaults)' : 'off (service.loginCache.ttlMs: 0)'}`);
  // All sessions come from 127.0.0.1: let the throttle treat them as the 8 clients they stand for.
  const throttle = `  loginThrottle: { maxChecksPerAddress: ${SESSIONS}, maxWaitingPerAddress: ${SESSIONS} }\n`;
  const extra = throttle + (LOGIN_CACHE ? '' : '  loginCache: { ttlMs: 0 }\n');
  // The fill runs in a process of its own: done here, its heap and the store's threads stayed in
  // the load generator and tripled its CPU per RETR against Postamt's run (not Dovecot's).
  const server = await startBenchServer(boxes, extra, (cfg) => fillInChild(cfg, boxes.map((b) => b.address)));
  try {
    const port = server.endpoints.pop3!.port;
    const out: Array<[string, string]> = [];
    await warmUp(port, boxes.map((b) => b.address));
    for (const mode of MODES) {
      const cpu0 = server.cpuMs();
      const gen0 = process.cpuUsage();
      const t0 = performance.now();
      const r = await runMode(mode, port, boxes.map((b) => b.address));
      const secs = (performance.now() - t0) / 1000;
      r.push(['  server CPU (% of one core)', ((100 * (server.cpuMs() - cpu0)) / 1000 / secs).toFixed(0)]);
      r.push(['  load generator CPU (% of one core)', generatorCpu(gen0, secs)]);
      out.push(...r);
    }
    out.push(['server peak RSS (MiB)', server.peakRssMiB().toFixed(0)]);
    for (const [k, v] of out) console.log(`${k.padEnd(40)} ${v}`);
    console.log('Figures are indicative: the load generator shares the machine with the server.');
  } finally {
    await server.stop();
  }
  await againstDovecot();
}

/**
 * The same modes against Dovecot's POP3 (bench/peers/setup-postfix-dovecot.sh): one mailbox
 * box@bench.test, its Maildir filled with PER_BOX messages of the same size when it holds fewer
 * (files written straight into new/, as a delivery agent leaves them). Dovecot checks a
 * SHA512-CRYPT hash with its auth cache on; Postamt runs with its login cache on.
 */
async function againstDovecot(): Promise<void> {
  const peer = await dovecotPeer();
  if (!peer) return console.log('Dovecot not listening (bench/peers/setup-postfix-dovecot.sh sets it up): no side-by-side');
  if (maildirCount() < PER_BOX) {
    clearMaildir();
    const { uid, gid } = statSync(PEER_MAILDIR);
    for (let i = 0; i < PER_BOX; i++) {
      const file = join(PEER_MAILDIR, 'new', `${1_700_000_000 + i}.M${i}P1.bench`);
      writeFileSync(file, message(i, 'box@bench.test'));
      chownSync(file, uid, gid);
    }
  }
  console.log(`\nDovecot (${peer.banner}) on ${peer.host}:${peer.port}, ${SESSIONS} sessions, mailbox box@bench.test of ${maildirCount()} messages, auth cache on`);
  const out: Array<[string, string]> = [];
  await warmUp(peer.port, ['box@bench.test']);
  for (const mode of MODES) {
    const gen0 = process.cpuUsage();
    const t0 = performance.now();
    const r = await runMode(mode, peer.port, ['box@bench.test']);
    r.push(['  load generator CPU (% of one core)', generatorCpu(gen0, (performance.now() - t0) / 1000)]);
    out.push(...r);
  }
  for (const [k, v] of out) console.log(`${k.padEnd(40)} ${v}`);
}

const fillJob = process.env.BENCH_POP3_FILL;
if (fillJob) {
  const { configFile, boxes } = JSON.parse(fillJob) as { configFile: string; boxes: string[] };
  await fill(configFile, boxes);
} else {
  await main();
}
