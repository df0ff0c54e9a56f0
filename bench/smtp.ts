/**
 * npm run bench:smtp — N messages of 10 KB over 16 concurrent connections into one mailbox,
 * durable (each 250 means fsynced and committed). Prints accepted msgs/s, per-message
 * latency (end of DATA to 250), time until all are retrievable over POP3, and peak RSS.
 * With Postfix's smtp-source installed it also drives the server with smtp-source.
 *   BENCH_MESSAGES=5000 BENCH_CONCURRENCY=16 npm run bench:smtp
 */
import { execFileSync } from 'node:child_process';
import { LineClient } from './lib/line-client.js';
import { startBenchServer, percentile, which } from './lib/server.js';

const N = Number(process.env.BENCH_MESSAGES ?? 5000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const SIZE = 10 * 1024;
const PASSWORD = 'bench password 1';

function message(i: number): Buffer {
  const head = `From: load@remote.test\r\nTo: box@bench.test\r\nSubject: bench ${i}\r\nMessage-ID: <b${i}@remote.test>\r\n\r\n`;
  const line = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n';
  let body = '';
  while (head.length + body.length + line.length <= SIZE) body += line;
  return Buffer.from(head + body + '.\r\n');
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

async function runNodeLoad(port: number): Promise<{ seconds: number; latencies: number[]; failed: number }> {
  const latencies: number[] = [];
  let next = 0;
  let failed = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      const c = await LineClient.connect(port);
      await c.reply();
      c.write('EHLO bench.client\r\n');
      await c.reply();
      for (;;) {
        const i = next++;
        if (i >= N) break;
        const msg = message(i);
        // MAIL, RCPT and DATA pipelined (RFC 2920), then the body.
        c.write('MAIL FROM:<load@remote.test>\r\nRCPT TO:<box@bench.test>\r\nDATA\r\n');
        await c.reply();
        await c.reply();
        await c.reply();
        const t0 = performance.now();
        c.write(msg);
        const r = await c.reply();
        latencies.push(performance.now() - t0);
        if (!r.startsWith('250')) failed++;
      }
      c.write('QUIT\r\n');
      await c.reply();
      c.close();
    }),
  );
  return { seconds: (performance.now() - started) / 1000, latencies, failed };
}

async function main(): Promise<void> {
  console.log(`bench:smtp — ${N} messages of ${SIZE / 1024} KB, ${CONCURRENCY} connections, one mailbox, durable (fsync + commit per 250)`);
  const server = await startBenchServer([{ address: 'box@bench.test', password: PASSWORD }]);
  try {
    const mx = server.endpoints['smtp-mx']!;
    const pop = server.endpoints.pop3!;
    const load = await runNodeLoad(mx.port);
    const t1 = performance.now();
    let count = 0;
    while ((count = await popCount(pop.port)) < N - load.failed) {
      /* poll until every accepted message is listed */
    }
    const retrievable = (performance.now() - t1) / 1000;
    load.latencies.sort((a, b) => a - b);
    const rows: Array<[string, string]> = [
      ['load generator', 'postamt (node, pipelined)'],
      ['accepted', `${N - load.failed} / ${N}`],
      ['accepted msgs/s', (N / load.seconds).toFixed(0)],
      ['latency p50 (ms)', percentile(load.latencies, 50).toFixed(2)],
      ['latency p99 (ms)', percentile(load.latencies, 99).toFixed(2)],
      ['all retrievable after last 250 (s)', retrievable.toFixed(3)],
      ['messages listed by POP3', String(count)],
      ['server peak RSS (MiB)', server.peakRssMiB().toFixed(0)],
    ];
    for (const [k, v] of rows) console.log(`${k.padEnd(38)} ${v}`);

    const smtpSource = which('smtp-source') ?? (which('/usr/sbin/smtp-source') ? '/usr/sbin/smtp-source' : null);
    if (smtpSource) {
      const t0 = performance.now();
      // -d keeps each session open for its next message, as the Node generator does.
      execFileSync(smtpSource, ['-d', '-s', String(CONCURRENCY), '-m', String(N), '-l', String(SIZE), '-f', 'load@remote.test', '-t', 'box@bench.test', `${mx.host}:${mx.port}`], { stdio: 'inherit' });
      const secs = (performance.now() - t0) / 1000;
      console.log(`${'smtp-source -d (Postfix) msgs/s'.padEnd(38)} ${(N / secs).toFixed(0)}`);
      const t1 = performance.now();
      const perConnection = Math.min(N, 2000);
      execFileSync(smtpSource, ['-s', String(CONCURRENCY), '-m', String(perConnection), '-l', String(SIZE), '-f', 'load@remote.test', '-t', 'box@bench.test', `${mx.host}:${mx.port}`], { stdio: 'inherit' });
      const secs1 = (performance.now() - t1) / 1000;
      console.log(`${'smtp-source, new connection per msg'.padEnd(38)} ${(perConnection / secs1).toFixed(0)} msgs/s (includes smtp-server's 100 ms greeting delay)`);
    } else {
      console.log('smtp-source not installed (Debian package postfix): skipped the Postfix load generator run');
    }
  } finally {
    await server.stop();
  }
}

void main();
