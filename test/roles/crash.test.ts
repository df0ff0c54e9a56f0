import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../helpers/env.js';
import { postamtSync, runSync, spawnPostamt } from '../helpers/process.js';
import { RawSmtpClient } from '../helpers/net.js';
import { repositoryPath } from '../helpers/env.js';
import { until } from '../helpers/wait.js';

const PASSWORD = 'crash test password';

/** Sends messages one after another on one connection, recording each that got 250. */
async function sender(port: number, id: number, accepted: Map<string, Buffer>, stop: { now: boolean }): Promise<void> {
  let c: RawSmtpClient;
  try {
    c = await RawSmtpClient.connect(port);
    await c.readReply();
    await c.cmd('EHLO crash.test');
  } catch {
    return;
  }
  for (let n = 0; !stop.now; n++) {
    const key = `c${id}-m${n}`;
    const body = Buffer.from(`Message-ID: <${key}@crash.test>\r\nSubject: ${key}\r\n\r\n${`${key} `.repeat(40)}\r\n${'payload line\r\n'.repeat(60)}`);
    try {
      if ((await c.cmd('MAIL FROM:<load@remote.test>')).code !== 250) return;
      if ((await c.cmd('RCPT TO:<box@crash.test>')).code !== 250) return;
      if ((await c.cmd('DATA')).code !== 354) return;
      c.write(Buffer.concat([body, Buffer.from('.\r\n')]));
      const r = await c.readReply(5000);
      if (r.code === 250) accepted.set(key, body);
    } catch {
      return; // the server died mid-transaction: this message was never acknowledged
    }
  }
  c.close();
}

test('SIGKILL under SMTP load loses no acknowledged message and leaves none half-filed', { timeout: 120_000 }, async () => {
  const d = tempDir();
  try {
    const cfg = join(d.path, 'postamt.yaml');
    writeFileSync(
      cfg,
      `dataDir: ${d.path}\nlog:\n  level: info\nservice:\n  hostname: crash.test\n  smtp:\n    mx: { port: 0 }\n    submission: { port: 0 }\n  pop3:\n    starttls: { port: 0 }\n    implicit: { port: 0 }\n  http: { port: 0 }\ndirectory:\n  ldap:\n    starttls: { port: 0 }\n    implicit: { port: 0 }\n`,
    );
    postamtSync(['domain', 'add', 'crash.test'], { config: cfg, check: true });
    postamtSync(['account', 'add', 'box@crash.test', '--password-stdin'], { config: cfg, input: PASSWORD, check: true });

    const first = await spawnPostamt(['-c', cfg, 'serve'], d.path);
    const accepted = new Map<string, Buffer>();
    const stop = { now: false };
    const senders = Array.from({ length: 8 }, (_, i) => sender(first.endpoints['smtp-mx']!.port, i, accepted, stop));
    // Kill once enough messages are through, while the senders are still mid-stream.
    await until('150 accepted messages', () => accepted.size >= 150, 120_000);
    first.child.kill('SIGKILL');
    const ended = await first.exited;
    assert.equal(ended.signal, 'SIGKILL');
    stop.now = true;
    await Promise.all(senders);
    assert.ok(accepted.size >= 150);

    const second = await spawnPostamt(['-c', cfg, 'serve'], d.path);
    try {
      const pop = second.endpoints.pop3!;
      const out = runSync('python3', [repositoryPath('test', 'helpers', 'pop3dump.py'), pop.host, String(pop.port), 'box@crash.test', PASSWORD], { check: true });
      const msgs = JSON.parse(out.stdout) as Array<{ uidl: string; size: number; octets: number; data: string }>;
      const seen = new Map<string, number>();
      for (const m of msgs) {
        const raw = Buffer.from(m.data, 'base64');
        assert.equal(raw.length, m.size, 'LIST size equals the retrieved octets');
        // Strip our trace headers (Return-Path + folded Received) to get what was sent.
        const start = raw.indexOf('Message-ID: ');
        assert.ok(start > 0, 'message has its trace headers and body');
        const key = /Subject: (\S+)/.exec(raw.toString())![1]!;
        seen.set(key, (seen.get(key) ?? 0) + 1);
        const sent = accepted.get(key);
        if (sent) assert.deepEqual(raw.subarray(start), sent, `${key} is byte-identical`);
      }
      for (const key of accepted.keys()) assert.equal(seen.get(key), 1, `acknowledged ${key} is there exactly once`);
      for (const [key, n] of seen) assert.equal(n, 1, `${key} is not duplicated`);
      assert.ok(msgs.length - accepted.size <= 8, 'at most one unacknowledged message per sender was filed');
    } finally {
      second.child.kill('SIGTERM');
      const e = await second.exited;
      assert.equal(e.code, 0, 'SIGTERM shuts down cleanly');
    }
  } finally {
    d.cleanup();
  }
});
