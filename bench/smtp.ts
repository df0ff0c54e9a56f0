/**
 * npm run bench:smtp — N messages of 10 KB over 16 concurrent connections into one mailbox,
 * durable (each 250 means fsynced and committed). Prints accepted msgs/s, per-message
 * latency (end of DATA to 250), time until all are retrievable over POP3, and peak RSS.
 * Two modes of the Node load generator: sessions reused (message after message on each) and a
 * new connection per message (connect, greeting, EHLO, one transaction, QUIT), where session
 * start-up is what is measured. With Postfix's smtp-source installed it also drives the server
 * with smtp-source, with -d (sessions reused) and without (a connection per message).
 *   BENCH_MESSAGES=5000 BENCH_PER_CONNECTION_MESSAGES=2000 BENCH_CONCURRENCY=16 npm run bench:smtp
 *   BENCH_TRACE=0 turns the message trace off (service.trace.enabled: false).
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { LineClient } from './lib/line-client.js';
import { startBenchServer, percentile } from './lib/server.js';
import { clearMaildir, maildirCount, postfixPeer, runSmtpSource, smtpSourcePath } from './lib/peers.js';
import { smtpLoad, type LoadResult } from './lib/smtp-load.js';
import { paddedMessage } from './lib/message.js';

const N = Number(process.env.BENCH_MESSAGES ?? 5000);
const N_PER_CONNECTION = Number(process.env.BENCH_PER_CONNECTION_MESSAGES ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const SIZE = 10 * 1024;
const PASSWORD = 'bench password 1';

function message(i: number): Buffer {
  const head = `From: load@remote.test\r\nTo: box@bench.test\r\nSubject: bench ${i}\r\nMessage-ID: <b${i}@remote.test>\r\n\r\n`;
  return paddedMessage(head, SIZE);
}

async function popCount(port: number): Promise<number> {
  const c = await LineClient.connect(port);
  await c.line();
  c.write(`USER box@bench.test\r\n`);
  await c.line();
  c.write(`PASS ${PASSWORD}\r\n`);
  const ok = await c.line();
  if (!ok.startsWith('+OK')) throw new Error(`POP3 login failed: ${ok}`);
  c.write('STAT\r\n');
  const stat = await c.line();
  c.write('QUIT\r\n');
  await c.line();
  c.close();
  return Number(stat.split(' ')[1]);
}

/** The rows of one Node load generator run. */
function report(mode: string, n: number, load: LoadResult, cpuMs: number): void {
  load.latencies.sort((a, b) => a - b);
  load.greetings.sort((a, b) => a - b);
  const rows: Array<[string, string]> = [
    ['accepted', `${n - load.failed} / ${n}`],
    ['accepted msgs/s', (n / load.seconds).toFixed(0)],
    // Less dependent on what else runs on the machine than the rate.
    ['server CPU per message (ms)', (cpuMs / n).toFixed(2)],
    ['connections', String(load.greetings.length)],
    ['connect to greeting p50 (ms)', percentile(load.greetings, 50).toFixed(2)],
    ['connect to greeting p99 (ms)', percentile(load.greetings, 99).toFixed(2)],
    ['latency p50 (ms)', percentile(load.latencies, 50).toFixed(2)],
    ['latency p99 (ms)', percentile(load.latencies, 99).toFixed(2)],
  ];
  console.log(`\nload generator: postamt (node, pipelined), ${mode}`);
  for (const [k, v] of rows) console.log(`  ${k.padEnd(36)} ${v}`);
}

async function main(): Promise<void> {
  console.log(`bench:smtp — messages of ${SIZE / 1024} KB, ${CONCURRENCY} connections at once, one mailbox, durable (fsync + commit per 250)`);
  // BENCH_TRACE=0: the message trace off (service.trace.enabled: false), to see what it costs.
  const server = await startBenchServer([{ address: 'box@bench.test', password: PASSWORD }], '', async (cfg) => {
    if (process.env.BENCH_TRACE === '0') writeFileSync(cfg, readFileSync(cfg, 'utf8').replace('  http: { port: 0 }\n', '  http: { port: 0 }\n  trace: { enabled: false }\n'));
  });
  if (process.env.BENCH_TRACE === '0') console.log('message trace: off (BENCH_TRACE=0)');
  try {
    const mx = server.endpoints['smtp-mx']!;
    const pop = server.endpoints.pop3!;
    const base = { port: mx.port, concurrency: CONCURRENCY, rcpt: 'box@bench.test' };
    let cpu0 = server.cpuMs();
    const reused = await smtpLoad({ ...base, n: N, message: (i) => message(i) });
    const reusedCpu = server.cpuMs() - cpu0;
    const t1 = performance.now();
    let count = 0;
    while ((count = await popCount(pop.port)) < N - reused.failed) {
      /* poll until every accepted message is listed */
    }
    const retrievable = (performance.now() - t1) / 1000;
    report(`sessions reused, ${N} messages`, N, reused, reusedCpu);
    console.log(`  ${'all retrievable after last 250 (s)'.padEnd(36)} ${retrievable.toFixed(3)}`);
    cpu0 = server.cpuMs();
    const fresh = await smtpLoad({ ...base, n: N_PER_CONNECTION, perConnection: true, message: (i) => message(N + i) });
    report(`a new connection per message, ${N_PER_CONNECTION} messages`, N_PER_CONNECTION, fresh, server.cpuMs() - cpu0);
    const expected = N + N_PER_CONNECTION - reused.failed - fresh.failed;
    while ((count = await popCount(pop.port)) < expected) {
      /* poll until every accepted message is listed */
    }
    console.log(`\n${'messages listed by POP3'.padEnd(38)} ${count}`);
    console.log(`${'server peak RSS (MiB)'.padEnd(38)} ${server.peakRssMiB().toFixed(0)}`);

    const smtpSource = smtpSourcePath();
    if (!smtpSource) {
      console.log('smtp-source not installed (Debian package postfix): skipped the smtp-source runs and Postfix');
      return;
    }
    const load = { sessions: CONCURRENCY, size: SIZE, to: 'box@bench.test' };
    const postamtRate = (reuse: boolean, n: number): number => {
      const c0 = server.cpuMs();
      const secs = runSmtpSource(smtpSource, mx, { ...load, messages: n, reuse });
      const rate = n / secs;
      console.log(`${(reuse ? 'smtp-source -d, sessions reused' : 'smtp-source, new connection per msg').padEnd(38)} ${rate.toFixed(0)} msgs/s, server CPU ${((server.cpuMs() - c0) / n).toFixed(2)} ms per message`);
      return rate;
    };
    const ours = { reused: postamtRate(true, N), perConnection: postamtRate(false, N_PER_CONNECTION) };
    const peer = await postfixPeer();
    if (!peer) {
      console.log('Postfix not listening (bench/peers/setup-postfix-dovecot.sh sets it up): no side-by-side');
      return;
    }
    // Postfix answers 250 once the message is in its queue (fsynced); end to end is until the
    // local delivery agent has put it into the Maildir, as Postamt's 250 means it is in the mailbox.
    const postfixRun = async (reuse: boolean, n: number): Promise<{ accepted: number; endToEnd: number }> => {
      clearMaildir();
      const t0 = performance.now();
      const secs = runSmtpSource(smtpSource, peer, { ...load, messages: n, reuse });
      while (maildirCount() < n) await new Promise((r) => setTimeout(r, 20)); // the bench polls a directory; not a test
      return { accepted: n / secs, endToEnd: n / ((performance.now() - t0) / 1000) };
    };
    const pfReused = await postfixRun(true, N);
    const pfFresh = await postfixRun(false, N_PER_CONNECTION);
    console.log(`\nside by side with ${peer.banner} on ${peer.host}:${peer.port}, smtp-source, ${CONCURRENCY} sessions, ${SIZE / 1024} KB, both durable`);
    const row = (k: string, a: string, b: string, c: string) => console.log(`${k.padEnd(30)} ${a.padStart(10)} ${b.padStart(22)} ${c.padStart(8)}`);
    row('mode', 'postamt', 'postfix (250 / e2e)', 'ratio');
    row('sessions reused (-d)', ours.reused.toFixed(0), `${pfReused.accepted.toFixed(0)} / ${pfReused.endToEnd.toFixed(0)}`, `${(ours.reused / pfReused.endToEnd).toFixed(2)}x`);
    row('a connection per message', ours.perConnection.toFixed(0), `${pfFresh.accepted.toFixed(0)} / ${pfFresh.endToEnd.toFixed(0)}`, `${(ours.perConnection / pfFresh.endToEnd).toFixed(2)}x`);
    console.log('ratio: Postamt msgs/s (a 250 = in the mailbox) over Postfix msgs/s end to end (in the Maildir)');
  } finally {
    await server.stop();
  }
}

void main();
