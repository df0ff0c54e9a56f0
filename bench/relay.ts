/**
 * npm run bench:relay — relaying between two providers, each a `postamt serve` child process.
 * 16 authenticated submission sessions (implicit TLS, AUTH PLAIN once each) at provider A send
 * BENCH_MESSAGES (3000) messages of 10 KB to a user of provider B; A queues each one (the 250
 * means fsynced and its queue row committed) and its relay worker hands it to B's MX listener
 * over STARTTLS (B's certificate verified against the route's ca). Prints the submission rate at
 * A, the end-to-end rate (until B's MX listener has accepted the last one: its /metrics polled), how far
 * the relay lags behind the submissions, and each process's CPU per message. BENCH_WARMUP (1000)
 * messages go through first, outside the figures.
 *   BENCH_MESSAGES=3000 BENCH_WARMUP=1000 BENCH_CONCURRENCY=16 npm run bench:relay
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, stringify } from 'yaml';
import { LineClient } from './lib/line-client.js';
import { percentile, startBenchServer, type BenchServer } from './lib/server.js';
import { encodeSaslPlain } from '../src/wire/index.js';

const N = Number(process.env.BENCH_MESSAGES ?? 3000);
const WARMUP = Number(process.env.BENCH_WARMUP ?? 1000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const SIZE = 10 * 1024;
const PASSWORD = 'bench password 1';
const SENDER = 'sender@a.bench.test';
const RCPT = 'box@b.bench.test';

const LINE = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n';
const BODY = LINE.repeat(Math.floor((SIZE - 200) / LINE.length));

function message(i: number): Buffer {
  return Buffer.from(`From: ${SENDER}\r\nTo: ${RCPT}\r\nSubject: relay ${i}\r\nMessage-ID: <r${i}@a.bench.test>\r\n\r\n${BODY}.\r\n`);
}

function row(label: string, value: string): void {
  console.log(`${label.padEnd(60)} ${value}`);
}

/**
 * Polls B's /metrics until its MX listener has accepted `count` messages; resolves with the time
 * it saw them (performance.now()). A POP3 STAT would cost B a password check per poll.
 */
async function acceptedAtB(b: BenchServer, count: number, timeoutMs = 600_000): Promise<number> {
  const url = `http://127.0.0.1:${b.endpoints.http!.port}/metrics`;
  const until = performance.now() + timeoutMs;
  for (;;) {
    const text = await (await fetch(url)).text();
    const m = /^postamt_smtp_messages_accepted_total\{listener="smtp-mx"\} (\d+)$/m.exec(text);
    if (Number(m?.[1] ?? 0) >= count) return performance.now();
    if (performance.now() > until) throw new Error(`B did not accept ${count} messages in ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** `count` messages over CONCURRENCY authenticated submission sessions at A; the 250s' latencies. */
async function submit(port: number, first: number, count: number): Promise<{ latencies: number[]; failed: number; lastAccepted: number }> {
  const latencies: number[] = [];
  let next = first;
  let failed = 0;
  let lastAccepted = 0;
  const auth = encodeSaslPlain({ authcid: SENDER, password: PASSWORD });
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      const c = await LineClient.connectTls(port);
      await c.reply();
      c.write('EHLO bench.client\r\n');
      await c.reply();
      c.write(`AUTH PLAIN ${auth}\r\n`);
      const a = await c.reply();
      if (!a.startsWith('235')) throw new Error(`AUTH at A failed: ${a}`);
      for (;;) {
        const i = next++;
        if (i >= first + count) break;
        c.write(`MAIL FROM:<${SENDER}>\r\nRCPT TO:<${RCPT}>\r\nDATA\r\n`);
        for (let k = 0; k < 3; k++) await c.reply();
        const t0 = performance.now();
        c.write(message(i));
        const r = await c.reply();
        const t1 = performance.now();
        latencies.push(t1 - t0);
        if (r.startsWith('250')) lastAccepted = Math.max(lastAccepted, t1);
        else failed++;
      }
      c.write('QUIT\r\n');
      await c.reply();
      c.close();
    }),
  );
  return { latencies, failed, lastAccepted };
}

async function main(): Promise<void> {
  console.log(`bench:relay — ${N} messages of 10 KB, ${CONCURRENCY} submission sessions at provider A, relayed to provider B over STARTTLS; SQLite, durable`);
  const b = await startBenchServer([{ address: RCPT, password: PASSWORD }]);
  let a: BenchServer | undefined;
  try {
    const route = { host: '127.0.0.1', port: b.endpoints['smtp-mx']!.port, tls: 'starttls', ca: [join(b.dir, 'tls', 'selfsigned.crt')] };
    a = await startBenchServer([{ address: SENDER, password: PASSWORD }], '', async (cfg) => {
      // The route goes into A's config file before A starts (service.relay.routes).
      const doc = parse(readFileSync(cfg, 'utf8')) as { service: Record<string, unknown>; directory?: unknown };
      doc.service.relay = { routes: { 'b.bench.test': route }, ...(process.env.BENCH_RELAY_CONCURRENCY ? { worker: { concurrency: Number(process.env.BENCH_RELAY_CONCURRENCY) } } : {}) };
      // B has the directory's default ports.
      doc.directory = { ldap: { starttls: { port: 0 }, implicit: { port: 0 } } };
      writeFileSync(cfg, stringify(doc));
    });
    const sub = a.endpoints['smtp-submission']!.port;

    const w = await submit(sub, 0, WARMUP);
    if (w.failed) throw new Error(`${w.failed} warm-up messages refused`);
    await acceptedAtB(b, WARMUP);
    row('warm-up (not in the figures): messages relayed first', String(WARMUP));

    const cpuA0 = a.cpuMs();
    const cpuB0 = b.cpuMs();
    const t0 = performance.now();
    const s = await submit(sub, WARMUP, N);
    const submitSecs = (s.lastAccepted - t0) / 1000;
    const allAtB = await acceptedAtB(b, WARMUP + N);
    const endSecs = (allAtB - t0) / 1000;
    const cpuA = a.cpuMs() - cpuA0;
    const cpuB = b.cpuMs() - cpuB0;
    s.latencies.sort((x, y) => x - y);
    row('submitted (250 at A: queued durably)', `${N - s.failed} / ${N}`);
    row('submission msgs/s at A (relaying at the same time)', (N / submitSecs).toFixed(0));
    row('submission latency end of DATA → 250, p50 / p99 (ms)', `${percentile(s.latencies, 50).toFixed(1)} / ${percentile(s.latencies, 99).toFixed(1)}`);
    row("end to end msgs/s (until the last is in B's mailbox)", (N / endSecs).toFixed(0));
    row('relay behind the last 250 (s)', ((allAtB - s.lastAccepted) / 1000).toFixed(2));
    row('CPU per message, provider A (submission, queue, relay) (ms)', (cpuA / N).toFixed(2));
    row('CPU per message, provider B (MX intake) (ms)', (cpuB / N).toFixed(2));
    row('peak RSS, A / B (MiB)', `${a.peakRssMiB().toFixed(0)} / ${b.peakRssMiB().toFixed(0)}`);
    console.log('Postfix as relay peer: not compared (a second MTA pair to configure); bench:smtp compares intake with smtp-source');
  } finally {
    await a?.stop();
    await b.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
