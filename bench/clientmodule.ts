/**
 * npm run bench:clientmodule — KOM-LE end to end through the client module, software Konnektor.
 * 16 primary-system SMTP connections (AUTH once each, MAIL/RCPT/DATA pipelined) send 100 KB
 * messages to 3 recipients: the client module looks up certificates over LDAP, signs, encrypts
 * and submits each one to the service, which stores it for the 3 mailboxes. Then the 3
 * recipients fetch them back through the client module's POP3 (decrypt + verify per RETR):
 *   1. first fetch: one session per mailbox, as a PS does (its login works out every presented
 *      size, i.e. decrypts every message once, before RETR);
 *   2. repeat fetch: 16 sessions over the 3 mailboxes, sizes known, each RETRing a share.
 * Service, directory and client module run in this process (as in test/clientmodule-e2e), so
 * peak RSS and CPU are those of the whole world plus the load generator.
 *   BENCH_MESSAGES=2000 BENCH_CONCURRENCY=16 npm run bench:clientmodule
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Session } from 'node:inspector/promises';
import { LineClient } from './lib/line-client.js';
import { percentile } from './lib/server.js';
import { parseConfig } from '../src/config/index.js';
import { createLogger } from '../src/core/index.js';
import { createTestPki } from '../src/crypto/index.js';
import { certificatesFrom } from '../src/directory/index.js';
import { Pop3Client } from '../src/pop3/index.js';
import { startService, startDirectoryFor, startClientModule } from '../src/roles/index.js';

const N = Number(process.env.BENCH_MESSAGES ?? 2000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);
const FETCH_SESSIONS = Number(process.env.BENCH_FETCH_SESSIONS ?? 16);
const SIZE = 100 * 1024;
const PASSWORD = 'bench password long';
const DOMAIN = 'praxis.kim.test';
const SENDER = { id: 'praxis-s', name: 'Praxis Sender', telematikId: '1-20019000', email: `praxis-s@${DOMAIN}`, mandant: 'm-s' };
const RECIPIENTS = [1, 2, 3].map((k) => ({ id: `praxis-${k}`, name: `Praxis ${k}`, telematikId: `1-2001900${k}`, email: `praxis-${k}@${DOMAIN}`, mandant: `m-${k}` }));

function message(i: number): Buffer {
  const head =
    `From: ${SENDER.email}\r\nTo: ${RECIPIENTS.map((r) => r.email).join(', ')}\r\nSubject: Befund ${i}\r\n` +
    `Message-ID: <bench-${i}@pvs.test>\r\nDate: Mon, 23 Nov 2026 10:00:00 +0100\r\nX-KIM-Dienstkennung: Arztbrief;VHitG-Versand;V1.2\r\n` +
    `MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n`;
  const line = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n';
  return Buffer.from(head + line.repeat(Math.floor((SIZE - head.length) / line.length)));
}

/** With BENCH_PROFILE_DIR set, a V8 CPU profile of one phase (the whole world runs in this process). */
async function profiled<T>(phase: string, run: () => Promise<T>): Promise<T> {
  const dir = process.env.BENCH_PROFILE_DIR;
  if (!dir) return run();
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.start');
  try {
    return await run();
  } finally {
    const { profile } = await session.post('Profiler.stop');
    writeFileSync(join(dir, `clientmodule-${phase}.cpuprofile`), JSON.stringify(profile));
    session.disconnect();
  }
}

function peakRssMiB(): number {
  return Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? 0) / 1024;
}

function row(k: string, v: string): void {
  console.log(`${k.padEnd(52)} ${v}`);
}

async function main(): Promise<void> {
  console.log(`bench:clientmodule — ${N} messages of ${SIZE / 1024} KB to ${RECIPIENTS.length} recipients, ${CONCURRENCY} PS connections, software Konnektor, SQLite`);
  const dataDir = mkdtempSync(join(tmpdir(), 'postamt-bench-cm-'));
  const practices = [SENDER, ...RECIPIENTS];
  await createTestPki({ dir: join(dataDir, 'pki'), practices, tlsNames: ['localhost', '127.0.0.1'] });
  const config = parseConfig(
    {
      dataDir,
      log: { level: 'silent' },
      service: {
        hostname: 'mx.bench.test',
        smtp: { mx: { port: 0 }, submission: { port: 0 } },
        pop3: { plain: { port: 0 }, tls: { port: 0 } },
        http: { port: 0 },
      },
      directory: { ldap: { port: 0 }, ldaps: { port: 0 } },
      konnektor: {
        trustAnchors: ['pki/ca.pem'],
        mandanten: practices.map((p) => ({ id: p.mandant, clientSystems: ['PVS'], workplaces: ['*'], smcb: { dir: `pki/${p.id}` } })),
      },
      clientModule: { smtp: { port: 0 }, smtps: { port: 0 }, pop3: { port: 0 }, pop3s: { port: 0 } },
    },
    'bench',
    {},
  );
  const logger = createLogger('silent');
  const svc = await startService(config, logger);
  await svc.accounts.addDomain(DOMAIN);
  for (const p of practices) {
    await svc.accounts.add({ address: p.email, password: PASSWORD, displayName: p.name, telematikId: p.telematikId });
    for (const der of certificatesFrom(readFileSync(join(dataDir, 'pki', p.id, 'enc.pem')))) await svc.directory.addCertificate(p.telematikId, der);
  }
  const dir = await startDirectoryFor(svc, config, logger);
  config.clientModule.directory.url = `ldap://127.0.0.1:${dir.endpoints.ldap!.port}`;
  const cm = await startClientModule(config, logger, { tls: svc.tls });
  const cmSmtp = cm.endpoints['cm-smtp']!.port;
  const cmPop3 = cm.endpoints['cm-pop3']!.port;
  const smtpUser = `${SENDER.email}#127.0.0.1:${svc.endpoints['smtp-submission']!.port}#${SENDER.mandant}#PVS#1`;
  const pop3User = (r: (typeof RECIPIENTS)[number]) => `${r.email}#127.0.0.1:${svc.endpoints.pop3s!.port}#${r.mandant}#PVS#1`;

  try {
    // --- send ---
    const latencies: number[] = [];
    let next = 0;
    let failed = 0;
    let firstFailure = '';
    const authPlain = Buffer.from(`\0${smtpUser}\0${PASSWORD}`).toString('base64');
    // All connections log in first (scrypt upstream, slow on purpose), then the timed sending.
    const ta = performance.now();
    const conns = await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        const c = await LineClient.connect(cmSmtp);
        await c.reply();
        c.write('EHLO pvs.bench\r\n');
        await c.reply();
        c.write(`AUTH PLAIN ${authPlain}\r\n`); // upstream login happens here, once per connection
        const auth = await c.reply();
        if (!auth.startsWith('235')) throw new Error(`AUTH failed: ${auth}`);
        return c;
      }),
    );
    row(`${CONCURRENCY} AUTHs at once (upstream login) (s)`, ((performance.now() - ta) / 1000).toFixed(2));
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    await profiled('send', () => Promise.all(
      conns.map(async (c) => {
        for (;;) {
          const i = next++;
          if (i >= N) break;
          c.write(`MAIL FROM:<${SENDER.email}>\r\n${RECIPIENTS.map((r) => `RCPT TO:<${r.email}>\r\n`).join('')}DATA\r\n`);
          for (let k = 0; k < RECIPIENTS.length + 2; k++) await c.reply();
          const ts = performance.now();
          c.write(message(i));
          c.write('.\r\n');
          const r = await c.reply();
          latencies.push(performance.now() - ts);
          if (!r.startsWith('250')) {
            failed++;
            firstFailure ||= r;
          }
        }
        c.write('QUIT\r\n');
        await c.reply();
        c.close();
      }),
    ));
    const sendSecs = (performance.now() - t0) / 1000;
    const sendCpu = process.cpuUsage(cpu0);
    latencies.sort((a, b) => a - b);
    row('sent (250 after the service accepted)', `${N - failed} / ${N}${firstFailure ? ` (first failure: ${firstFailure})` : ''}`);
    row('sent msgs/s', (N / sendSecs).toFixed(0));
    row('sent MB/s (PS plaintext)', ((N * SIZE) / sendSecs / 1e6).toFixed(1));
    row('send latency end of DATA → 250, p50 (ms)', percentile(latencies, 50).toFixed(1));
    row('send latency p99 (ms)', percentile(latencies, 99).toFixed(1));
    row('process CPU while sending (% of one core)', ((100 * (sendCpu.user + sendCpu.system)) / 1e6 / sendSecs).toFixed(0));

    // --- first fetch: one session per mailbox ---
    const fetchPass = async (sessions: number): Promise<{ secs: number; loginSecs: number; msgs: number; bytes: number; lat: number[]; bad: number }> => {
      const lat: number[] = [];
      let bytes = 0;
      let msgs = 0;
      let bad = 0;
      let loginSecs = 0;
      const t = performance.now();
      await Promise.all(
        Array.from({ length: sessions }, async (_, s) => {
          const r = RECIPIENTS[s % RECIPIENTS.length]!;
          const share = Math.ceil((sessions - (s % RECIPIENTS.length)) / RECIPIENTS.length); // sessions on this mailbox
          const slot = Math.floor(s / RECIPIENTS.length);
          const tl = performance.now();
          const c = await Pop3Client.connect({ host: '127.0.0.1', port: cmPop3, tls: 'none', timeoutMs: 600_000 });
          await c.login(pop3User(r), PASSWORD);
          const { count } = await c.stat();
          loginSecs = Math.max(loginSecs, (performance.now() - tl) / 1000);
          for (let n = 1 + slot; n <= count; n += share) {
            const tr = performance.now();
            const m = await c.retr(n);
            lat.push(performance.now() - tr);
            bytes += m.length;
            msgs++;
            if (!m.includes('X-KIM-DecryptionResult: 00') || !m.includes('X-KIM-IntegrityCheckResult: 00')) bad++;
          }
          await c.quit();
        }),
      );
      lat.sort((a, b) => a - b);
      return { secs: (performance.now() - t) / 1000, loginSecs, msgs, bytes, lat, bad };
    };
    const report = (label: string, f: Awaited<ReturnType<typeof fetchPass>>): void => {
      row(`${label}: messages retrieved`, `${f.msgs}${f.bad ? ` (${f.bad} without result headers 00!)` : ''}`);
      row(`${label}: slowest login incl. sizes (s)`, f.loginSecs.toFixed(2));
      row(`${label}: msgs/s (logins included)`, (f.msgs / f.secs).toFixed(0));
      row(`${label}: MB/s (presented)`, (f.bytes / f.secs / 1e6).toFixed(1));
      row(`${label}: RETR latency p50 / p99 (ms)`, `${percentile(f.lat, 50).toFixed(1)} / ${percentile(f.lat, 99).toFixed(1)}`);
    };
    report(`fetch, ${RECIPIENTS.length} sessions (1/mailbox)`, await fetchPass(RECIPIENTS.length));
    report(`fetch again, ${FETCH_SESSIONS} sessions`, await profiled('fetch', () => fetchPass(FETCH_SESSIONS)));
    row('peak RSS, whole process (MiB)', peakRssMiB().toFixed(0));
    console.log(`target: ≥ 300 msgs/s sent (issue 5)`);
  } finally {
    await cm.close(1000);
    await dir.close(1000);
    await svc.close();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

void main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
