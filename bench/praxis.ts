/**
 * node dist/bench/praxis.js [N] — the Praxis-Postfach's inbox (issue 21: 1,000 KOM-LE messages list
 * in < 1 s). The demo stack in this process (Konnektor simulator over SOAP); practice A's PS sends
 * N (1000) KOM-LE messages to B through the client module; then B's browser lists the inbox three
 * times through the Praxis-Postfach. The sign-in pays the client module's opening of every new
 * message at login (it announces sizes after decryption), and the same session asks their
 * headers (TOP, answered from what the client module opened); the listings are UIDL + LIST only
 * (summaries kept by UIDL). Prints the times and the POP3 commands sent.
 *   npm run bench:praxis [-- N]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { parseConfig } from '../src/config/index.js';
import { createLogger } from '../src/core/index.js';
import { startDemo } from '../src/roles/index.js';

const N = Number(process.argv[2] ?? 1000);
const dir = mkdtempSync(join(tmpdir(), 'postamt-bench-praxis-'));
const zero = { port: 0 };
const config = parseConfig(
  {
    dataDir: dir,
    log: { level: 'silent' },
    service: { smtp: { mx: zero, submission: zero }, pop3: { starttls: zero, implicit: zero }, http: zero },
    directory: { ldap: { starttls: zero, implicit: zero } },
    clientModule: { smtp: { starttls: zero, implicit: zero }, pop3: { starttls: zero, implicit: zero } },
    praxis: { http: zero },
  },
  'bench',
  {},
);
const demo = await startDemo(config, createLogger('silent'));
try {
  const [pa, pb] = demo.endpointsFile.practices as Array<{ address: string; password: string; smtpUser: string }>;
  const e = demo.endpointsFile.endpoints.praxis!;
  const base = `http://${e.host}:${e.port}/praxis/api`;
  const cm = demo.endpointsFile.endpoints['cm-smtps']!;
  const t = nodemailer.createTransport({ pool: true, maxConnections: 2, maxMessages: 1_000_000, host: cm.host, port: cm.port, secure: true, auth: { user: pa!.smtpUser, pass: pa!.password }, tls: { rejectUnauthorized: false } });
  let t0 = performance.now();
  await Promise.all(Array.from({ length: N }, (_, i) => t.sendMail({ from: pa!.address, to: pb!.address, subject: `Nachricht ${i}`, text: `Befund ${i}\n`.repeat(50) })));
  t.close();
  console.log(`sent ${N} KOM-LE messages A → B in ${(performance.now() - t0).toFixed(0)} ms`);
  t0 = performance.now();
  const login = await fetch(`${base}/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user: pb!.address, password: pb!.password }) });
  console.log(`sign-in ${login.status} in ${(performance.now() - t0).toFixed(0)} ms`);
  const cookie = login.headers.get('set-cookie')!.split(';')[0]!;
  const counters = demo.praxis!.praxis.pop3Counters;
  for (const label of ['first', 'second', 'third']) {
    const before = { ...counters };
    t0 = performance.now();
    const r = await fetch(`${base}/messages`, { headers: { cookie } });
    const j = (await r.json()) as { total: number };
    console.log(`${label} listing: HTTP ${r.status}, ${j.total} messages, ${(performance.now() - t0).toFixed(0)} ms, ${counters.commands - before.commands} POP3 commands (${counters.top - before.top} TOP)`);
  }
} finally {
  await demo.close();
  rmSync(dir, { recursive: true, force: true });
}
