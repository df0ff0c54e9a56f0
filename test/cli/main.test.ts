import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import { tempDir } from '../helpers/env.js';
import { loadConfig } from '../../src/config/index.js';
import { openStore, writeBlob } from '../../src/store/index.js';
import { RelayQueue } from '../../src/service/relay/index.js';

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
  for (const cmd of ['start', 'serve', 'config', 'domain', 'account', 'store', 'queue']) assert.match(r.stdout, new RegExp(`\\n  ${cmd}\\b`));
  assert.match(r.stdout, /POSTAMT_DATABASE_URL/);
  const sub = spawnSync(process.execPath, ['bin/postamt.js', 'account', 'add', '--help'], { encoding: 'utf8' });
  assert.match(sub.stdout, /--password-stdin/);
  const unknown = spawnSync(process.execPath, ['bin/postamt.js', 'frobnicate'], { encoding: 'utf8' });
  assert.equal(unknown.status, 2);
  assert.match(unknown.stderr, /unknown command/);
});

test('--version (and -V) prints the version of package.json and exits 0', () => {
  const { version } = JSON.parse(readFileSync('package.json', 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const r = spawnSync(process.execPath, ['bin/postamt.js', flag], { encoding: 'utf8' });
    assert.deepEqual([r.status, r.stdout, r.stderr], [0, `${version}\n`, ''], flag);
  }
  assert.match(spawnSync(process.execPath, ['bin/postamt.js', '--help'], { encoding: 'utf8' }).stdout, /-V, --version +print the version/);
});

test("commander's parse errors exit 2, as usage errors do, with the message on stderr; help still exits 0", () => {
  const run = (...args: string[]) => spawnSync(process.execPath, ['bin/postamt.js', ...args], { encoding: 'utf8' });
  for (const [args, message] of [
    [['--frobnicate'], /^error: unknown option '--frobnicate'\n/],
    [['domain', 'add', '--frobnicate', 'x.example'], /^error: unknown option '--frobnicate'\n/],
    [['domain', 'add'], /^error: missing required argument 'name'\n/],
    [['account', 'add', 'a@x.example', '--quota'], /^error: option '--quota <size>' argument missing\n/],
    [['account', 'add', 'a@x.example', '--quota', 'lots'], /^error: option '--quota <size>' argument 'lots' is invalid/],
    [['domain', 'frobnicate'], /^error: unknown command 'frobnicate'\n/],
    [['domain', 'list', 'extra'], /^error: too many arguments for 'list'/],
    [['domain'], /^Usage: postamt domain \[options\] \[command\]/],
    [[], /^Usage: postamt \[options\] \[command\]/],
  ] as const) {
    const r = run(...args);
    assert.equal(r.status, 2, `postamt ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.equal(r.stdout, '', args.join(' '));
  }
  for (const args of [['--help'], ['domain', '--help'], ['help', 'account'], ['account', 'add', '--help']]) {
    const r = run(...args);
    assert.equal(r.status, 0, args.join(' '));
    assert.match(r.stdout, /^Usage: postamt/, args.join(' '));
  }
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

test('postamt queue: list, retry and delete relay queue entries', async () => {
  const d = tempDir();
  try {
    const cfg = join(d.path, 'postamt.yaml');
    writeFileSync(cfg, `dataDir: ${d.path}\n`);
    const { config } = loadConfig(cfg, {});
    const store = await openStore(config);
    try {
      const blob = await writeBlob(store.blobs, Buffer.from('Subject: queued\r\n\r\nx\r\n'));
      await new RelayQueue(store.db, store.dialect, 60_000).enqueue(store.db, { queueId: 'QID1', blob, mailFrom: 'anna@praxis.example', recipients: ['bob@b.test', 'carol@c.test'], now: Date.now() + 3_600_000 });
    } finally {
      await store.close();
    }
    const list = cli(cfg, ['queue', 'list']);
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, /^#1\tQID1\twaiting\tattempts=0\tnext=\S+\tanna@praxis\.example -> bob@b\.test\t\d+B\n#2\tQID1\twaiting/);
    const json = JSON.parse(cli(cfg, ['queue', 'list', '--domain', 'C.Test', '--json']).stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(json.map((e) => [e.id, e.recipient, e.state]), [[2, 'carol@c.test', 'waiting']]);
    assert.match(cli(cfg, ['queue', 'retry', '1']).stdout, /^1 entry due now/);
    assert.match(cli(cfg, ['queue', 'retry']).stdout, /^2 entries due now/);
    assert.match(cli(cfg, ['queue', 'retry', '9']).stderr, /queue entry 9 does not exist/);
    assert.equal(cli(cfg, ['queue', 'delete', '#1']).stdout, 'deleted queue entry #1\n');
    assert.match(cli(cfg, ['queue', 'delete', 'x']).stderr, /must be a whole number/);
    assert.equal(JSON.parse(cli(cfg, ['queue', 'list', '--json']).stdout).length, 1);
    assert.equal(cli(cfg, ['queue', 'delete', '2']).status, 0);
    const empty = cli(cfg, ['queue', 'list']);
    assert.deepEqual([empty.status, empty.stdout, empty.stderr], [0, '', 'the relay queue is empty\n']);
    assert.match(cli(cfg, ['store', 'gc', '--grace', '0']).stdout, /removed 0 unreferenced blobs/, 'the last entry took its blob with it');
    const help = cli(cfg, ['queue', '--help']).stdout;
    for (const word of ['list', 'retry', 'delete', 'waiting', 'sending', 'DSN']) assert.match(help, new RegExp(word));
  } finally {
    d.cleanup();
  }
});
