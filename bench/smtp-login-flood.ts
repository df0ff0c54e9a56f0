/**
 * npm run bench:smtp-flood — bench:smtp's load (N messages of 10 KB over 16 pipelined MX
 * sessions, each 250 durable) with and without 16 connections sending wrong POP3 passwords as
 * fast as the server answers them, from another client address (127.0.0.2). Runs alternate
 * (quiet, flood, quiet, flood …) on one server so that the machine's drift hits both alike.
 * Two floods: `wait` (each connection waits for its answer) and `hangup` (it sends and drops
 * the connection). Prints msgs/s per run, each flood's share of the quiet rate, p99 latency,
 * the flood's answers/attempts and how many were hashed (issue 17: the share must stay ≥ 90%).
 *   BENCH_MESSAGES=3000 BENCH_ROUNDS=3 BENCH_FLOOD=16 npm run bench:smtp-flood
 */
import net from 'node:net';
import { smtpLoad } from './lib/smtp-load.js';
import { startBenchServer, percentile } from './lib/server.js';
import { paddedMessage } from './lib/message.js';

const N = Number(process.env.BENCH_MESSAGES ?? 3000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const FLOOD = Number(process.env.BENCH_FLOOD ?? 16);
const CONCURRENCY = 16;
const SIZE = 10 * 1024;

function message(i: number): Buffer {
  const head = `From: load@remote.test\r\nTo: box@bench.test\r\nSubject: bench ${i}\r\nMessage-ID: <f${i}-${Date.now()}@remote.test>\r\n\r\n`;
  return paddedMessage(head, SIZE);
}

/**
 * One flooding connection after another. `wait`: USER/PASS with a wrong password as soon as the
 * last answer came, a new connection when the server closed one. `hangup`: USER/PASS right after
 * the greeting and the connection dropped at once, without waiting for the answer — the
 * cheapest attack for the client, and the one that made every attempt cost a hash for nothing.
 * Counts the answers (wait) or the attempts (hangup).
 */
function flood(port: number, connections: number, mode: 'wait' | 'hangup'): { stop(): void; answers: () => number } {
  let answers = 0;
  let stopped = false;
  const sockets = new Set<net.Socket>();
  const open = (): void => {
    if (stopped) return;
    const s = net.connect({ port, host: '127.0.0.1', localAddress: '127.0.0.2' });
    sockets.add(s);
    let buf = '';
    let greeted = false;
    const attempt = (then?: () => void): void => void s.write(`USER box@bench.test\r\nPASS wrong-${answers}\r\n`, then);
    s.setEncoding('latin1');
    s.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (!greeted) {
          greeted = true;
          if (mode === 'hangup') {
            answers++;
            attempt(() => s.destroy());
          } else attempt();
        } else if (line.startsWith('-ERR')) {
          answers++;
          if (!/closing/.test(line)) attempt();
        }
      }
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      sockets.delete(s);
      open();
    });
  };
  for (let i = 0; i < connections; i++) open();
  return {
    answers: () => answers,
    stop: () => {
      stopped = true;
      for (const s of sockets) s.destroy();
    },
  };
}

/** The sum of a metric's series that carry every one of `labels` (`result="failed"`). */
async function metric(httpPort: number, name: string, ...labels: string[]): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(`${name}{`) && labels.every((l) => line.includes(l))) sum += Number(line.split(' ').pop());
  return sum;
}

async function main(): Promise<void> {
  console.log(`bench:smtp-flood — ${N} messages of ${SIZE / 1024} KB over ${CONCURRENCY} MX sessions per run, ${ROUNDS} rounds of quiet/flood; flood: ${FLOOD} POP3 connections of wrong passwords from 127.0.0.2`);
  const server = await startBenchServer([{ address: 'box@bench.test', password: 'bench password 1' }]);
  try {
    const mx = server.endpoints['smtp-mx']!.port;
    const pop = server.endpoints.pop3!.port;
    const http = server.endpoints.http!.port;
    const rows: string[] = [];
    const kinds = ['quiet', 'wait', 'hangup'] as const;
    const rates = { quiet: [] as number[], wait: [] as number[], hangup: [] as number[] };
    const p99 = { quiet: [] as number[], wait: [] as number[], hangup: [] as number[] };
    // A warm-up run, not counted.
    await smtpLoad({ port: mx, n: Math.min(N, 500), concurrency: CONCURRENCY, rcpt: 'box@bench.test', message });
    for (let r = 0; r < ROUNDS; r++) {
      for (const kind of kinds) {
        const f = kind === 'quiet' ? undefined : flood(pop, FLOOD, kind);
        const cpu0 = server.cpuMs();
        const checked0 = await metric(http, 'postamt_pop3_logins_total', 'result="failed"');
        const load = await smtpLoad({ port: mx, n: N, concurrency: CONCURRENCY, rcpt: 'box@bench.test', message });
        const answers = f?.answers() ?? 0;
        f?.stop();
        const cpu = server.cpuMs() - cpu0;
        const checked = (await metric(http, 'postamt_pop3_logins_total', 'result="failed"')) - checked0;
        load.latencies.sort((a, b) => a - b);
        const rate = N / load.seconds;
        rates[kind].push(rate);
        p99[kind].push(percentile(load.latencies, 99));
        rows.push(
          `${String(r + 1).padEnd(6)} ${kind.padEnd(6)} ${rate.toFixed(0).padStart(8)} ${percentile(load.latencies, 99).toFixed(1).padStart(9)} ${(cpu / N).toFixed(3).padStart(10)} ${String(load.failed).padStart(7)} ${String(answers).padStart(10)} ${String(checked).padStart(8)}`,
        );
      }
    }
    console.log(`${'round'.padEnd(6)} ${'run'.padEnd(6)} ${'msgs/s'.padStart(8)} ${'p99 (ms)'.padStart(9)} ${'CPU ms/msg'.padStart(10)} ${'failed'.padStart(7)} ${'flood n'.padStart(10)} ${'hashed'.padStart(8)}`);
    for (const row of rows) console.log(row);
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    for (const kind of ['wait', 'hangup'] as const) {
      console.log(`flood (${kind}) mean msgs/s ${mean(rates[kind]).toFixed(0)} vs quiet ${mean(rates.quiet).toFixed(0)}: ${((100 * mean(rates[kind])) / mean(rates.quiet)).toFixed(1)}% (target ≥ 90%); p99 ${mean(p99[kind]).toFixed(1)} ms vs ${mean(p99.quiet).toFixed(1)} ms`);
    }
    console.log(`server peak RSS ${server.peakRssMiB().toFixed(0)} MiB`);
  } finally {
    await server.stop();
  }
}

void main();
