/**
 * npm run bench:mailin — 10 KB messages over 16 pipelined SMTP sessions, durable (each 250
 * means fsynced and committed), into:
 *   1. a normal mailbox (plain delivery: the baseline);
 *   2. a mail-in database with one after-delivery webhook to a receiver in this process:
 *      msgs/s accepted, and p50/p99 from the 250 to the webhook's receipt;
 *   3. a mail-in database with a before-delivery webhook to the same receiver: what the agent
 *      adds to end-of-DATA→250 beyond the webhook's own time (measured at the receiver).
 *   4. the floor: parsing one message and one webhook exchange (caller + receiver), timed alone —
 *      the least CPU an after-delivery document adds to a plain delivery.
 * Runs 1–3 are interleaved in rounds, since a VM's speed drifts within a run.
 *   BENCH_MESSAGES=3000 BENCH_CONCURRENCY=16 BENCH_ROUNDS=5 npm run bench:mailin
 */
import { createServer } from 'node:http';
import { once } from 'node:events';
import type { AddressInfo } from 'node:net';
import { execFileSync } from 'node:child_process';
import { startBenchServer, percentile } from './lib/server.js';
import { smtpLoad, type LoadResult } from './lib/smtp-load.js';
import { parseDocument, toPayload } from '../src/mailin/document.js';
import { runWebhook } from '../src/mailin/webhook.js';
import type { Agent } from '../src/mailin/types.js';
import { paddedMessage } from './lib/message.js';

const N = Number(process.env.BENCH_MESSAGES ?? 3000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const SIZE = 10 * 1024;
const SECRET = 'bench-secret-0123456789abcdef';

function message(rcpt: string, tag: string, i: number): Buffer {
  const head = `From: load@remote.test\r\nTo: ${rcpt}\r\nSubject: ${tag} ${i}\r\nMessage-ID: <${tag}${i}@remote.test>\r\n\r\n`;
  return paddedMessage(head, SIZE);
}

/** The third party: records when each document arrived (by subject) and how long it spent answering. */
async function startReceiver() {
  const arrived = new Map<string, number>();
  const handlerMs: number[] = [];
  let waiter: { n: number; resolve(): void } | null = null;
  const server = createServer((req, res) => {
    const t0 = performance.now();
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const doc = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { subject: string };
      arrived.set(doc.subject, performance.now());
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{}');
      handlerMs.push(performance.now() - t0);
      if (waiter && arrived.size >= waiter.n) waiter.resolve();
    });
  });
  server.keepAliveTimeout = 60_000;
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`,
    arrived,
    handlerMs,
    waitFor: (n: number) => (arrived.size >= n ? Promise.resolve() : new Promise<void>((resolve) => (waiter = { n, resolve }))),
    close: () => {
      server.closeAllConnections();
      server.close();
    },
  };
}

function row(k: string, v: string): void {
  console.log(`${k.padEnd(52)} ${v}`);
}

function summary(name: string, r: LoadResult, n = N): number {
  const sorted = [...r.latencies].sort((a, b) => a - b);
  const rate = (n - r.failed) / r.seconds;
  row(`${name}: accepted`, `${n - r.failed} / ${n}`);
  row(`${name}: msgs/s`, rate.toFixed(0));
  row(`${name}: DATA→250 p50 / p99 (ms)`, `${percentile(sorted, 50).toFixed(2)} / ${percentile(sorted, 99).toFixed(2)}`);
  return rate;
}

async function main(): Promise<void> {
  console.log(`bench:mailin — ${N} messages of ${SIZE / 1024} KB per run, ${CONCURRENCY} connections, durable (fsync + commit per 250)`);
  const rx = await startReceiver();
  const server = await startBenchServer(
    [{ address: 'box@bench.test', password: 'bench password 1' }],
    // The receiver is in this process, on loopback.
    `mailin:\n  worker:\n    concurrency: 32\n  webhook:\n    allowLoopbackTargets: true\n`,
    async (cfg) => {
      const cli = (...args: string[]) => execFileSync(process.execPath, ['bin/postamt.js', '-c', cfg, ...args], { stdio: ['ignore', 'ignore', 'inherit'] });
      cli('mailin', 'add', 'after@bench.test', '--name', 'after-delivery');
      cli('mailin', 'agent', 'add', 'after@bench.test', '--trigger', 'after-delivery', '--webhook', rx.url, '--secret', SECRET);
      cli('mailin', 'add', 'before@bench.test', '--name', 'before-delivery');
      cli('mailin', 'agent', 'add', 'before@bench.test', '--trigger', 'before-delivery', '--webhook', rx.url, '--secret', SECRET);
      cli('mailin', 'add', 'plain@bench.test', '--name', 'no agents');
    },
  );
  try {
    const port = server.endpoints['smtp-mx']!.port;
    // Warm-up (JIT, connection pools, blob directories) so the runs compare like with like.
    await smtpLoad({ port, n: 200, concurrency: CONCURRENCY, rcpt: 'box@bench.test', message: (i) => message('box@bench.test', 'warm', i) });

    // The machine's speed drifts over a run (a VM: seconds fast, seconds slow), so the three
    // compared deliveries are interleaved: ROUNDS rounds, each of N/ROUNDS messages per kind,
    // and the figures are sums over the rounds (plus the range of the per-round ratio).
    type Phase = { seconds: number; latencies: number[]; failed: number; cpuMs: number; ownCpuMs: number; n: number };
    const phase = (): Phase => ({ seconds: 0, latencies: [], failed: 0, cpuMs: 0, ownCpuMs: 0, n: 0 });
    const plain = phase();
    const noAgent = phase();
    const after = phase();
    const at250 = new Map<string, number>();
    const ratios: number[] = [];
    let drain = 0;
    const measure = async (into: Phase, n: number, run: () => Promise<LoadResult>): Promise<void> => {
      const c0 = server.cpuMs();
      const own0 = process.cpuUsage();
      const r = await run();
      const own = process.cpuUsage(own0);
      into.cpuMs += server.cpuMs() - c0;
      into.ownCpuMs += (own.user + own.system) / 1000;
      into.seconds += r.seconds;
      into.latencies.push(...r.latencies);
      into.failed += r.failed;
      into.n += n;
    };
    const per = Math.ceil(N / ROUNDS);
    for (let round = 0; round < ROUNDS; round++) {
      const base = round * per;
      const n = Math.min(per, N - base);
      if (n <= 0) break;
      const p0 = plain.seconds;
      const a0 = after.seconds;
      await measure(plain, n, () => smtpLoad({ port, n, concurrency: CONCURRENCY, rcpt: 'box@bench.test', message: (i) => message('box@bench.test', 'plain', base + i) }));
      await measure(noAgent, n, () => smtpLoad({ port, n, concurrency: CONCURRENCY, rcpt: 'plain@bench.test', message: (i) => message('plain@bench.test', 'doc', base + i) }));
      const waited = rx.arrived.size;
      await measure(after, n, async () => {
        const r = await smtpLoad({
          port,
          n,
          concurrency: CONCURRENCY,
          rcpt: 'after@bench.test',
          message: (i) => message('after@bench.test', 'after', base + i),
          accepted: (i, t) => at250.set(`after ${base + i}`, t),
        });
        // The round ends with its last webhook, so its CPU is counted here and not in the next round's plain run.
        const tDone = performance.now();
        await rx.waitFor(waited + n - r.failed);
        drain = Math.max(drain, (performance.now() - tDone) / 1000);
        return r;
      });
      ratios.push((plain.seconds - p0) / (after.seconds - a0));
    }
    const report = (name: string, ph: Phase): number => {
      const rate = (ph.n - ph.failed) / ph.seconds;
      const sorted = [...ph.latencies].sort((a, b) => a - b);
      row(`${name}: accepted`, `${ph.n - ph.failed} / ${ph.n}`);
      row(`${name}: msgs/s`, rate.toFixed(0));
      row(`${name}: DATA→250 p50 / p99 (ms)`, `${percentile(sorted, 50).toFixed(2)} / ${percentile(sorted, 99).toFixed(2)}`);
      row(`${name}: server CPU per message (ms)`, (ph.cpuMs / ph.n).toFixed(2));
      row(`${name}: load generator + receiver CPU (% of one core)`, ((100 * ph.ownCpuMs) / 1000 / ph.seconds).toFixed(0));
      return rate;
    };
    const plainRate = report('plain delivery (mailbox)', plain);
    report('mail-in, no agent', noAgent);
    const afterRate = report('mail-in + after-delivery webhook (until its last webhook)', after);
    const toHook = [...at250].map(([s, t]) => rx.arrived.get(s)! - t).sort((a, b) => a - b);
    row('mail-in + after-delivery: 250→webhook p50 / p99 (ms)', `${percentile(toHook, 50).toFixed(2)} / ${percentile(toHook, 99).toFixed(2)}`);
    row('mail-in + after-delivery: last webhook after last 250 (s, worst round)', drain.toFixed(3));
    const pct = (x: number) => `${(x * 100).toFixed(0)}%`;
    const sortedRatios = [...ratios].sort((a, b) => a - b);
    row('after-delivery throughput / plain (target ≥ 80%)', `${pct(afterRate / plainRate)} (rounds ${pct(sortedRatios[0]!)}–${pct(sortedRatios.at(-1)!)})`);
    row('plain / after-delivery server CPU per message (the load-independent ratio)', pct(plain.cpuMs / plain.n / (after.cpuMs / after.n)));
    const noAgentRun: LoadResult = { seconds: noAgent.seconds, latencies: noAgent.latencies, greetings: [], failed: noAgent.failed };

    rx.handlerMs.length = 0;
    const beforeRun = await smtpLoad({ port, n: N, concurrency: CONCURRENCY, rcpt: 'before@bench.test', message: (i) => message('before@bench.test', 'before', i) });
    summary('mail-in + before-delivery webhook', beforeRun);
    const hookOwn = percentile([...rx.handlerMs].sort((a, b) => a - b), 50);
    const p50 = (r: LoadResult) => percentile([...r.latencies].sort((a, b) => a - b), 50);
    row("before-delivery: the webhook's own time p50 (ms)", hookOwn.toFixed(2));
    row('16 connections: before-delivery adds to DATA→250 p50 beyond it (ms)', (p50(beforeRun) - p50(noAgentRun) - hookOwn).toFixed(2));
    // The same comparison one message at a time: the agent's cost without queueing behind others.
    const M = Math.min(N, 500);
    const seqPlain = await smtpLoad({ port, n: M, concurrency: 1, rcpt: 'plain@bench.test', message: (i) => message('plain@bench.test', 'seq', i) });
    rx.handlerMs.length = 0;
    const seqBefore = await smtpLoad({ port, n: M, concurrency: 1, rcpt: 'before@bench.test', message: (i) => message('before@bench.test', 'seqb', i) });
    const seqOwn = percentile([...rx.handlerMs].sort((a, b) => a - b), 50);
    row(`1 connection, ${M} msgs: DATA→250 p50 no agent / before-delivery (ms)`, `${p50(seqPlain).toFixed(2)} / ${p50(seqBefore).toFixed(2)}`);
    row('1 connection: added beyond the webhook\'s own time p50 (ms, target ≤ 5)', (p50(seqBefore) - p50(seqPlain) - seqOwn).toFixed(2));
    row('server peak RSS (MiB)', server.peakRssMiB().toFixed(0));

    // The floor: what an after-delivery document costs at the least, whatever is built around
    // it — parsing the message, and one webhook exchange (caller and receiver: both run on
    // this machine's two cores during the bench). Measured here, in this process, alone.
    const floor = await primitiveWork(rx.url);
    row('floor: parse one message (µs CPU)', floor.parseUs.toFixed(0));
    row('floor: one webhook exchange, caller + receiver (µs CPU)', floor.webhookUs.toFixed(0));
    const plainMs = plain.cpuMs / plain.n;
    row('80% of plain allows, beyond plain delivery (µs CPU per message)', ((plainMs / 0.8 - plainMs) * 1000).toFixed(0));
    row('the floor of that extra work (µs CPU per message)', (floor.parseUs + floor.webhookUs).toFixed(0));
  } finally {
    rx.close();
    await server.stop();
  }
}

async function primitiveWork(url: string): Promise<{ parseUs: number; webhookUs: number }> {
  const raw = Buffer.concat([Buffer.from('Return-Path: <load@remote.test>\r\nReceived: from bench.client (localhost [127.0.0.1]) by bench.test with ESMTP id X; Tue, 1 Dec 2026 16:00:00 +0000\r\n'), message('after@bench.test', 'floor', 0)]);
  const cpu = async (n: number, concurrency: number, fn: () => Promise<unknown>): Promise<number> => {
    let next = 0;
    const c0 = process.cpuUsage();
    await Promise.all(Array.from({ length: concurrency }, async () => {
      while (next++ < n) await fn();
    }));
    const c = process.cpuUsage(c0);
    return (c.user + c.system) / n;
  };
  await cpu(500, 1, () => parseDocument(raw));
  const parseUs = await cpu(2000, 1, () => parseDocument(raw));
  const doc = await parseDocument(raw);
  const agent: Agent = { id: 1, dbId: 1, name: 'floor', trigger: 'after-delivery', kind: 'webhook', url, secret: SECRET, scriptPath: null, timeoutMs: 30_000, onFailure: 'tempfail', includeRaw: false, createdAt: 0 };
  const call = () =>
    runWebhook(agent, 'after-delivery', toPayload(doc, { uid: 'u', database: 'after@bench.test', mailFrom: 'load@remote.test', rcptTo: ['after@bench.test'], queueId: 'Q', receivedAt: Date.now(), raw, inlineMaxBytes: 1 << 20, rawMaxBytes: -1 }), { allowHosts: [], maxResponseBytes: 65536, targets: { allowPrivate: false, allowLoopback: true, ownListeners: [] } });
  await cpu(500, 16, call);
  const webhookUs = await cpu(2000, 16, call);
  return { parseUs, webhookUs };
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
