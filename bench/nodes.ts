/**
 * npm run bench:nodes — Postamt on PostgreSQL with 1, 2 and 3 `postamt serve` nodes sharing one
 * database (blobs.backend: database), all on this machine: so the figures are the cost of
 * sharing, not scale. SMTP: BENCH_MESSAGES of 10 KB over 16 sessions spread over the nodes
 * (sessions reused, pipelined); POP3: 8 sessions spread over the nodes retrieving them one
 * command at a time. Prints msgs/s in all and per node, and how the CPU was shared between the
 * nodes, PostgreSQL and the rest, to show where the next bottleneck is.
 *   BENCH_NODES=1,2,3 BENCH_MESSAGES=4000 BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/postgres npm run bench:nodes
 */
import { randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import pg from 'pg';
import { Pop3LoadClient } from './lib/line-client.js';
import { cpuMsOf, startBenchServer, type BenchServer } from './lib/server.js';
import { smtpLoad } from './lib/smtp-load.js';
import { paddedMessage } from './lib/message.js';

const NODES = (process.env.BENCH_NODES ?? '1,2,3').split(',').map(Number);
const N = Number(process.env.BENCH_MESSAGES ?? 4000);
const SMTP_SESSIONS = 16;
const POP_SESSIONS = 8;
const SIZE = 10 * 1024;
const PASSWORD = 'bench password 1';
const PG_ADMIN = process.env.BENCH_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres';

function message(i: number): Buffer {
  const head = `From: load@remote.test\r\nTo: box@bench.test\r\nSubject: nodes ${i}\r\nMessage-ID: <n${i}@remote.test>\r\n\r\n`;
  return paddedMessage(head, SIZE);
}

/** CPU so far of every process named `postgres` on this machine, in ms (the server and its backends). */
function postgresCpuMs(): number {
  let ms = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() === 'postgres') ms += cpuMsOf(Number(pid));
    } catch {
      /* gone meanwhile */
    }
  }
  return ms;
}

function machineCpuMs(): number {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.split(/\s+/).slice(1).map(Number);
  return (f[0]! + f[1]! + f[2]! + f[5]! + f[6]!) * 10; // user nice system irq softirq
}

async function popLoginAndRetrieve(port: number, first: number, count: number): Promise<number> {
  const c = await Pop3LoadClient.connect(port);
  await c.status();
  c.write('USER box@bench.test\r\n');
  await c.status();
  c.write(`PASS ${PASSWORD}\r\n`);
  if (!(await c.status()).startsWith('+OK')) throw new Error('POP3 login failed');
  c.write('STAT\r\n');
  const n = Number((await c.status()).split(' ')[1]);
  for (let k = 0; k < count; k++) {
    c.write(`RETR ${((first + k) % n) + 1}\r\n`);
    await c.multi();
  }
  c.write('QUIT\r\n');
  await c.status();
  c.close();
  return count;
}

interface Phase {
  secs: number;
  perNode: number[];
  cpu: { nodes: number[]; postgres: number; machine: number };
}

async function measure(nodes: BenchServer[], work: (node: number, i: number) => Promise<number>, sessions: number): Promise<Phase> {
  const c0 = nodes.map((n) => n.cpuMs());
  const pg0 = postgresCpuMs();
  const m0 = machineCpuMs();
  const perNode = nodes.map(() => 0);
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: sessions }, async (_, i) => {
      const done = await work(i % nodes.length, i); // not `perNode[k] += await …`: that reads perNode[k] before the await
      perNode[i % nodes.length]! += done;
    }),
  );
  const secs = (performance.now() - t0) / 1000;
  return { secs, perNode, cpu: { nodes: nodes.map((n, i) => n.cpuMs() - c0[i]!), postgres: postgresCpuMs() - pg0, machine: machineCpuMs() - m0 } };
}

function report(label: string, k: number, p: Phase): void {
  const total = p.perNode.reduce((a, b) => a + b, 0);
  const nodesCpu = p.cpu.nodes.reduce((a, b) => a + b, 0);
  const pct = (ms: number) => `${((100 * ms) / 1000 / p.secs).toFixed(0)}%`;
  console.log(
    `${label.padEnd(6)} ${String(k).padStart(5)} ${(total / p.secs).toFixed(0).padStart(9)} ${p.perNode.map((n) => (n / p.secs).toFixed(0)).join(' / ').padStart(18)}` +
      ` ${pct(nodesCpu).padStart(10)} ${pct(p.cpu.postgres).padStart(10)} ${pct(Math.max(0, p.cpu.machine - nodesCpu - p.cpu.postgres)).padStart(8)}  ${((nodesCpu + p.cpu.postgres) / total).toFixed(2)} ms`,
  );
}

async function run(k: number): Promise<void> {
  const name = `postamt_bench_${randomBytes(4).toString('hex')}`;
  const admin = new pg.Client({ connectionString: PG_ADMIN });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  const url = new URL(PG_ADMIN);
  url.pathname = `/${name}`;
  const secretKey = randomBytes(32).toString('base64');
  // Continues the service block of startBenchServer's config, then top-level keys of their own.
  const extra =
    `  loginThrottle: { maxChecksPerAddress: 16, maxWaitingPerAddress: 16 }\n` +
    `database:\n  url: ${url.toString()}\n  secretKey: ${secretKey}\nblobs:\n  backend: database\n` +
    `directory:\n  ldap:\n    starttls: { port: 0 }\n    implicit: { port: 0 }\n`;
  const nodes: BenchServer[] = [];
  try {
    nodes.push(await startBenchServer([{ address: 'box@bench.test', password: PASSWORD }], extra));
    for (let i = 1; i < k; i++) nodes.push(await startBenchServer([], extra));
    const perSession = Math.ceil(N / SMTP_SESSIONS);
    const smtp = await measure(
      nodes,
      async (node, i) => {
        const r = await smtpLoad({ port: nodes[node]!.endpoints['smtp-mx']!.port, n: perSession, concurrency: 1, rcpt: 'box@bench.test', message: (j) => message(i * perSession + j) });
        return perSession - r.failed;
      },
      SMTP_SESSIONS,
    );
    report('smtp', k, smtp);
    const perPop = Math.floor(N / POP_SESSIONS);
    const pop = await measure(nodes, (node, i) => popLoginAndRetrieve(nodes[node]!.endpoints.pop3!.port, i * perPop, perPop), POP_SESSIONS);
    report('pop3', k, pop);
  } finally {
    for (const n of nodes) await n.stop();
    await admin.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
    await admin.end();
  }
}

async function main(): Promise<void> {
  console.log(`bench:nodes — ${N} messages of ${SIZE / 1024} KB; SMTP ${SMTP_SESSIONS} sessions (reused, pipelined), POP3 ${POP_SESSIONS} sessions (one command at a time), spread over the nodes; one PostgreSQL, blobs in it`);
  console.log(`${'phase'.padEnd(6)} ${'nodes'.padStart(5)} ${'msgs/s'.padStart(9)} ${'per node'.padStart(18)} ${'nodes CPU'.padStart(10)} ${'PG CPU'.padStart(10)} ${'other'.padStart(8)}  CPU per msg (nodes+PG)`);
  for (const k of NODES) await run(k);
  console.log('CPU as % of one core; this machine has 2. One machine: the figures are the cost of sharing, not scale.');
}

void main();
