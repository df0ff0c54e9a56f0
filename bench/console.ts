/**
 * npm run bench:console — what open admin consoles cost the server (issue 21: ≤ 1% CPU with 5
 * consoles open during bench:smtp). A console's overview asks GET /api/stats every 10 s and
 * GET /api/status every 15 s (web/console/pages/overview.tsx); that is all it costs while open.
 * The consoles here are HTTP clients with a console session (cookie) that send those requests,
 * not browsers: the server cannot tell the difference, and a browser's own CPU is not the
 * server's.
 *   1. The ring of samples is filled first (sampleMs 1 s, 360 samples), so /api/stats answers
 *      its largest (a full hour's worth in production).
 *   2. Cost of one poll: K polls (stats + status) one after another, server CPU per poll.
 *   3. SMTP load (as bench:smtp, sessions reused) alone, then with 5 consoles polling at the
 *      console's own intervals: msgs/s and server CPU per message of both runs.
 * Prints the share of one core 5 consoles take, at most: their requests per second × CPU per poll.
 *   BENCH_POLLS=2000 BENCH_MESSAGES=5000 BENCH_CONSOLES=5 npm run bench:console
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startBenchServer } from './lib/server.js';
import { smtpLoad } from './lib/smtp-load.js';
import { paddedMessage } from './lib/message.js';

const POLLS = Number(process.env.BENCH_POLLS ?? 2000);
const N = Number(process.env.BENCH_MESSAGES ?? 5000);
const CONSOLES = Number(process.env.BENCH_CONSOLES ?? 5);
const STATS_EVERY_MS = 10_000;
const STATUS_EVERY_MS = 15_000;
const SAMPLES = 360;

const message = (i: number): Buffer => paddedMessage(`From: load@remote.test\r\nTo: box@bench.test\r\nSubject: console bench ${i}\r\n\r\n`, 10 * 1024);

async function signIn(base: string, token: string): Promise<string> {
  const r = await fetch(`${base}/console/api/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token }) });
  if (r.status !== 200) throw new Error(`console sign-in: ${r.status}`);
  const cookie = r.headers.get('set-cookie')?.split(';')[0];
  if (!cookie) throw new Error('console sign-in: no cookie');
  return cookie;
}

async function get(base: string, cookie: string, path: string): Promise<number> {
  const r = await fetch(`${base}${path}`, { headers: { cookie } });
  const body = await r.arrayBuffer();
  if (r.status !== 200) throw new Error(`${path}: ${r.status}`);
  return body.byteLength;
}

async function main(): Promise<void> {
  const server = await startBenchServer([{ address: 'box@bench.test', password: 'bench password 1' }], '', async (cfg) => {
    const yaml = readFileSync(cfg, 'utf8').replace('  http: { port: 0 }', `  http: { port: 0, console: { sampleMs: 1000, historySamples: ${SAMPLES} } }`);
    writeFileSync(cfg, yaml);
  });
  try {
    const http = server.endpoints.http!;
    const base = `http://${http.host}:${http.port}`;
    const token = readFileSync(join(server.dir, 'admin-token'), 'utf8').trim();
    const cookies = await Promise.all(Array.from({ length: CONSOLES }, () => signIn(base, token)));
    console.log(`bench:console — ${CONSOLES} console sessions; overview polls /api/stats every ${STATS_EVERY_MS / 1000} s and /api/status every ${STATUS_EVERY_MS / 1000} s`);

    // 1. A full ring: some traffic, then wait until the sampler has taken SAMPLES samples.
    await smtpLoad({ port: server.endpoints['smtp-mx']!.port, n: 200, concurrency: 4, rcpt: 'box@bench.test', message });
    let samples = 0;
    for (;;) {
      const s = (await (await fetch(`${base}/api/stats`, { headers: { cookie: cookies[0]! } })).json()) as { samples: unknown[] };
      samples = s.samples.length;
      if (samples >= SAMPLES) break;
      await new Promise((r) => setTimeout(r, 1000)); // the bench waits for the sampler's clock; not a test
    }

    // 2. CPU per poll, the server otherwise idle (its own timers are part of the figure: an upper bound).
    let statsBytes = 0;
    let statusBytes = 0;
    const c0 = server.cpuMs();
    const t0 = performance.now();
    for (let i = 0; i < POLLS; i++) {
      statsBytes = await get(base, cookies[i % CONSOLES]!, '/api/stats');
      statusBytes = await get(base, cookies[i % CONSOLES]!, '/api/status');
    }
    const pollSeconds = (performance.now() - t0) / 1000;
    const cpuPerPollMs = (server.cpuMs() - c0) / POLLS;
    // Each request counted at the price of both together: an upper bound.
    const requestsPerSecond = CONSOLES * (1000 / STATS_EVERY_MS + 1000 / STATUS_EVERY_MS);
    const row = (k: string, v: string) => console.log(`  ${k.padEnd(44)} ${v}`);
    console.log('\none poll (GET /api/stats + GET /api/status), one after another');
    row('ring samples in /api/stats', String(samples));
    row('answer bytes (stats / status)', `${statsBytes} / ${statusBytes}`);
    row('polls/s (sequential, one client)', (POLLS / pollSeconds).toFixed(0));
    row('server CPU per poll (ms)', cpuPerPollMs.toFixed(3));
    row(`share of one core, ${CONSOLES} consoles open (%, at most)`, ((requestsPerSecond * cpuPerPollMs) / 10).toFixed(3));

    // 3. During SMTP load: without consoles, then with them polling at their own pace.
    const smtp = { port: server.endpoints['smtp-mx']!.port, concurrency: 16, rcpt: 'box@bench.test', message };
    const runLoad = async (label: string, offset: number, withConsoles: boolean): Promise<void> => {
      let polls = 0;
      let stop = false;
      const pollers = withConsoles
        ? cookies.map(async (cookie, k) => {
            // Staggered, as consoles opened at different times would be.
            let nextStats = performance.now() + (k * STATS_EVERY_MS) / CONSOLES / 10;
            let nextStatus = nextStats;
            while (!stop) {
              const now = performance.now();
              if (now >= nextStats) {
                await get(base, cookie, '/api/stats');
                polls++;
                nextStats += STATS_EVERY_MS;
              }
              if (now >= nextStatus) {
                await get(base, cookie, '/api/status');
                nextStatus += STATUS_EVERY_MS;
              }
              await new Promise((r) => setTimeout(r, 50)); // the poller's clock, as a browser timer; not a test
            }
          })
        : [];
      const cpu0 = server.cpuMs();
      const load = await smtpLoad({ ...smtp, n: N, message: (i) => message(offset + i) });
      const cpu = server.cpuMs() - cpu0;
      stop = true;
      await Promise.all(pollers);
      console.log(`\nSMTP load, sessions reused, ${N} messages, ${label}`);
      row('accepted msgs/s', (N / load.seconds).toFixed(0));
      row('server CPU per message (ms)', (cpu / N).toFixed(3));
      if (withConsoles) row('stats polls answered during the run', String(polls));
    };
    await runLoad('no console open', 0, false);
    await runLoad(`${CONSOLES} consoles open`, N, true);
    console.log('\nThe share above is the figure to read: the SMTP runs differ by less than their noise.');
  } finally {
    await server.stop();
  }
}

await main();
