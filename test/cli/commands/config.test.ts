import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../helpers/env.js';
import { postamtSync } from '../../helpers/process.js';

test('`postamt config check` accepts a good file and names the key in a bad one', () => {
  const d = tempDir();
  try {
    const good = join(d.path, 'good.yaml');
    // The data directory is the service's (checked private); the file beside it is the operator's.
    writeFileSync(good, `dataDir: ${join(d.path, 'data')}\ndatabase:\n  url: postgres://postamt:hunter2@db.example/postamt\nservice:\n  hostname: mail.example\n`);
    const ok = postamtSync(['config', 'check', '-c', good]);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /is valid/);
    assert.match(ok.stdout, /postgres:\/\/postamt:\*\*\*@db\.example/);
    assert.doesNotMatch(ok.stdout, /hunter2/, 'the password is redacted');
    const bad = join(d.path, 'bad.yaml');
    writeFileSync(bad, 'service:\n  pop3:\n    idleTimeoutMs: -5\n');
    const res = postamtSync(['config', 'check', '-c', bad]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /service\.pop3\.idleTimeoutMs: /);
  } finally {
    d.cleanup();
  }
});

test('`postamt config check` never prints database.secretKey, from the file or from POSTAMT_SECRET_KEY', () => {
  const d = tempDir();
  try {
    const key = 'file-key-0123456789-0123456789-0123456789';
    const env = 'env-key-0123456789-0123456789-0123456789';
    const f = join(d.path, 'postamt.yaml');
    writeFileSync(f, `dataDir: ${join(d.path, 'data')}\ndatabase:\n  secretKey: ${key}\n`);
    for (const args of [['config', 'check'], ['config', 'check', '--json']]) {
      const fromFile = postamtSync([...args, '-c', f]);
      assert.equal(fromFile.code, 0, fromFile.stderr);
      assert.doesNotMatch(fromFile.stdout + fromFile.stderr, /file-key/);
      const fromEnv = postamtSync([...args, '-c', f], { env: { ...process.env, POSTAMT_SECRET_KEY: env } });
      assert.equal(fromEnv.code, 0, fromEnv.stderr);
      assert.doesNotMatch(fromEnv.stdout + fromEnv.stderr, /env-key|file-key/);
    }
    const json = JSON.parse(postamtSync(['config', 'check', '--json', '-c', f]).stdout) as { database: { secretKey: string } };
    assert.equal(json.database.secretKey, '***');
  } finally {
    d.cleanup();
  }
});
