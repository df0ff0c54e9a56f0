import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { tempDir } from './helpers/env.js';

function cli(cfg: string, args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/postamt.js', '-c', cfg, ...args], { encoding: 'utf8', input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('domain and account administration through the CLI', () => {
  const d = tempDir();
  try {
    const cfg = join(d.path, 'postamt.yaml');
    writeFileSync(cfg, `dataDir: ${d.path}\n`);
    assert.equal(cli(cfg, ['domain', 'add', 'Praxis.Example']).stdout, 'added domain praxis.example\n');
    const dup = cli(cfg, ['domain', 'add', 'praxis.example']);
    assert.equal(dup.status, 1);
    assert.match(dup.stderr, /exists already/);

    const gen = cli(cfg, ['account', 'add', 'anna@praxis.example', '--name', 'Dr. Anna', '--telematik-id', '1-20014711', '--quota', '2M']);
    assert.equal(gen.status, 0, gen.stderr);
    assert.match(gen.stdout, /^added account anna@praxis\.example\npassword: \S{12,}\n$/);
    assert.equal(cli(cfg, ['account', 'add', 'ben@praxis.example', '--password-stdin'], 'a secret from stdin\n').status, 0);

    const list = JSON.parse(cli(cfg, ['account', 'list', '--json']).stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(
      list.map((a) => [a.address, a.displayName, a.telematikId, a.quotaBytes, a.disabled]),
      [
        ['anna@praxis.example', 'Dr. Anna', '1-20014711', 2 * 1024 * 1024, false],
        ['ben@praxis.example', '', null, 0, false],
      ],
    );
    assert.equal(cli(cfg, ['account', 'disable', 'ben@praxis.example']).status, 0);
    assert.match(cli(cfg, ['account', 'list']).stdout, /ben@praxis\.example\t\tdisabled/);
    assert.equal(cli(cfg, ['account', 'disable', 'ben@praxis.example', '--enable']).status, 0);
    assert.match(cli(cfg, ['account', 'passwd', 'ben@praxis.example']).stdout, /password: \S+/);
    assert.equal(cli(cfg, ['account', 'quota', 'ben@praxis.example', '1G']).status, 0);

    const bad = cli(cfg, ['account', 'add', 'x@praxis.example', '--quota', 'lots']);
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /expected a size/);
    const missing = cli(cfg, ['account', 'rm', 'nobody@praxis.example']);
    assert.equal(missing.status, 1);
    assert.match(missing.stderr, /does not exist/);

    assert.match(cli(cfg, ['domain', 'rm', 'praxis.example']).stderr, /still has 2 account/);
    assert.equal(cli(cfg, ['account', 'rm', 'anna@praxis.example']).status, 0);
    assert.equal(cli(cfg, ['account', 'rm', 'ben@praxis.example']).status, 0);
    assert.equal(cli(cfg, ['domain', 'rm', 'praxis.example']).status, 0);
    assert.equal(cli(cfg, ['domain', 'list']).stdout, '');
    assert.match(cli(cfg, ['store', 'gc']).stdout, /removed 0 unreferenced blobs/);
  } finally {
    d.cleanup();
  }
});

test('--help lists every command and the environment variables', () => {
  const r = spawnSync(process.execPath, ['bin/postamt.js', '--help'], { encoding: 'utf8' });
  assert.equal(r.status, 0);
  for (const cmd of ['start', 'serve', 'config', 'domain', 'account', 'store']) assert.match(r.stdout, new RegExp(`\\n  ${cmd}\\b`));
  assert.match(r.stdout, /POSTAMT_DATABASE_URL/);
  const sub = spawnSync(process.execPath, ['bin/postamt.js', 'account', 'add', '--help'], { encoding: 'utf8' });
  assert.match(sub.stdout, /--password-stdin/);
  const unknown = spawnSync(process.execPath, ['bin/postamt.js', 'frobnicate'], { encoding: 'utf8' });
  assert.notEqual(unknown.status, 0);
  assert.match(unknown.stderr, /unknown command/);
});

test('output into a pipe the reader has closed (postamt --help | head) ends quietly, without a stack trace', async () => {
  const child = spawn(process.execPath, ['bin/postamt.js', '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
  // Closed before the child can have written anything: its first write meets EPIPE.
  child.stdout.destroy();
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString('utf8')));
  const [code] = (await once(child, 'close')) as [number | null];
  assert.equal(code, 0);
  assert.equal(stderr, '');
});
