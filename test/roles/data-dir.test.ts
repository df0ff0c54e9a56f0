import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import nodemailer from 'nodemailer';
import { tempDir } from '../helpers/env.js';
import { postamtSync, spawnPostamt, type ServiceProcess } from '../helpers/process.js';
import { signatureValid, startReceiver } from '../helpers/mailin.js';

// Fault 2 of issue 17: another local account must not read stored mail, the database (with its
// WAL) or the keys, and a webhook secret must not lie in any file in plain text.

const SECRET = 'webhook-secret-never-in-plain-4711';
const DB = 'approvals@praxis.test';
const PASSWORD = 'data dir test password';

function uidOf(name: string): { uid: number; gid: number } | null {
  const uid = spawnSync('id', ['-u', name], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', name], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return null;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

/** Every file under `dir`, for a search of their bytes. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, encoding: 'utf8' }).map((n) => join(dir, n)).filter((p) => statSync(p).isFile());
}

function holdingSecret(dir: string): string[] {
  return filesUnder(dir).filter((f) => readFileSync(f).includes(Buffer.from(SECRET)));
}

function send(svc: ServiceProcess, to: string, subject: string): Promise<unknown> {
  const transport = nodemailer.createTransport({ host: '127.0.0.1', port: svc.endpoints['smtp-mx']!.port, secure: false, tls: { rejectUnauthorized: false } });
  return transport.sendMail({ from: 'oa@office.test', to, subject, text: `${subject}: private health data\n` });
}

async function stop(svc: ServiceProcess): Promise<void> {
  svc.child.kill('SIGTERM');
  const e = await svc.exited;
  assert.equal(e.code, 0, 'SIGTERM shuts down cleanly');
}

test('another local user reads nothing of the data directory, and the webhook secret is in no file', { timeout: 120_000 }, async (t) => {
  if (process.getuid?.() !== 0) return t.skip('needs root: the test drops to the `nobody` account to read the data directory as another local user');
  const nobody = uidOf('nobody');
  if (!nobody) return t.skip('no `nobody` account on this host to read the data directory as');
  const d = tempDir();
  // The data directory's parent is open to all (as /var/lib is): only the modes postamt sets protect it.
  chmodSync(d.path, 0o755);
  const dataDir = join(d.path, 'data');
  const receiver = await startReceiver(() => ({ status: 200, body: { action: 'accept' } }));
  let svc: ServiceProcess | undefined;
  try {
    const cfg = join(d.path, 'postamt.yaml');
    writeFileSync(
      cfg,
      `dataDir: ${dataDir}\nlog:\n  level: info\nservice:\n  hostname: mx.praxis.test\n  smtp:\n    mx: { port: 0 }\n    submission: { port: 0 }\n  pop3:\n    starttls: { port: 0 }\n    implicit: { port: 0 }\n  http: { port: 0 }\nmailin:\n  worker: { pollIntervalMs: 50 }\n  webhook: { allowLoopbackTargets: true }\n`,
    );
    postamtSync(['domain', 'add', 'praxis.test'], { config: cfg, check: true });
    postamtSync(['account', 'add', 'anna@praxis.test', '--password-stdin'], { config: cfg, input: PASSWORD, check: true });
    postamtSync(['mailin', 'add', DB, '--name', 'approvals'], { config: cfg, check: true });

    svc = await spawnPostamt(['-c', cfg, 'serve', '--roles', 'service'], dataDir);
    const token = readFileSync(join(dataDir, 'admin-token'), 'utf8').trim();
    const added = await fetch(`http://127.0.0.1:${svc.endpoints.http!.port}/api/mailin/${DB}/agents`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ trigger: 'after-delivery', webhook: receiver.url, secret: SECRET }),
    });
    assert.equal(added.status, 201, await added.text());
    await send(svc, 'anna@praxis.test', 'for anna');
    await send(svc, DB, 'approval 1');
    await receiver.waitForCalls(1);
    assert.ok(signatureValid(SECRET, receiver.calls[0]!), 'the webhook is signed with the secret it was given');

    // As `nobody`: the database, its WAL and shared memory, a stored message, the keys and tokens, the listings.
    const blobDir = readdirSync(join(dataDir, 'blobs')).find((n) => /^[0-9a-f]{2}$/.test(n))!;
    const blob = join(dataDir, 'blobs', blobDir, readdirSync(join(dataDir, 'blobs', blobDir))[0]!);
    const files = ['postamt.db', 'postamt.db-wal', 'postamt.db-shm', 'admin-token', 'secret-key', 'endpoints.json', 'tls/selfsigned.key'].map((f) => join(dataDir, f));
    for (const f of [...files, blob]) {
      statSync(f); // it exists: a refusal below is not ENOENT
      const r = spawnSync('cat', [f], { ...nobody, encoding: 'utf8' });
      assert.notEqual(r.status, 0, `nobody read ${f}`);
      assert.match(r.stderr, /Permission denied/, f);
    }
    for (const dir of [dataDir, join(dataDir, 'blobs'), join(dataDir, 'blobs', blobDir)]) {
      const r = spawnSync('ls', [dir], { ...nobody, encoding: 'utf8' });
      assert.notEqual(r.status, 0, `nobody listed ${dir}`);
      assert.match(r.stderr, /Permission denied/, dir);
    }
    assert.deepEqual(holdingSecret(dataDir), [], 'the secret is in no file while the service runs (database, WAL, shared memory)');
    await stop(svc);
    svc = undefined;
    assert.deepEqual(holdingSecret(dataDir), [], 'nor after it stopped');

    // An operator (or an older release) opened paths: `config check` names them and fails.
    chmodSync(join(dataDir, 'postamt.db'), 0o644);
    chmodSync(join(dataDir, 'blobs'), 0o755);
    const open = postamtSync(['config', 'check'], { config: cfg });
    assert.equal(open.code, 1, open.stdout + open.stderr);
    assert.match(open.stderr, new RegExp(`error: ${join(dataDir, 'postamt.db')} is open to group/others \\(mode 0644\\)`));
    assert.match(open.stderr, new RegExp(`error: ${join(dataDir, 'blobs')} is open to group/others \\(mode 0755\\)`));
    assert.match(open.stdout, /2 path\(s\) open to group\/others/);

    // The service's start closes them (one log line), and the secret still signs after the restart.
    svc = await spawnPostamt(['-c', cfg, 'serve', '--roles', 'service'], dataDir);
    const tightened = svc.stdout.filter((l) => /removed group\/other access/.test(l));
    assert.equal(tightened.length, 1, svc.stdout.join('\n'));
    assert.match(tightened[0]!, /"changed":2/);
    const clean = postamtSync(['config', 'check'], { config: cfg });
    assert.equal(clean.code, 0, clean.stderr);
    assert.match(clean.stdout, /data directory is private to this user/);
    await send(svc, DB, 'approval 2');
    await receiver.waitForCalls(2);
    assert.ok(signatureValid(SECRET, receiver.calls[1]!), 'the secret opened after the restart signs as before');
    assert.deepEqual(holdingSecret(dataDir), [], 'the secret is in no file after the restart');
    await stop(svc);
    svc = undefined;
  } finally {
    if (svc) {
      svc.child.kill('SIGKILL');
      await svc.exited;
    }
    await receiver.close();
    d.cleanup();
  }
});
