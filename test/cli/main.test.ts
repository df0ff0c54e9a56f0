import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { repositoryPath, tempDir } from '../helpers/env.js';
import { loadConfig } from '../../src/config/index.js';
import { openStore, writeBlob } from '../../src/store/index.js';
import { RelayQueue } from '../../src/service/relay/index.js';
import { postamtSync } from '../helpers/process.js';

test('domain and account administration through the CLI', () => {
  const d = tempDir();
  try {
    const cfg = join(d.path, 'postamt.yaml');
    writeFileSync(cfg, `dataDir: ${d.path}\n`);
    assert.equal(postamtSync(['domain', 'add', 'Praxis.Example'], { config: cfg }).stdout, 'added domain praxis.example\n');
    const dup = postamtSync(['domain', 'add', 'praxis.example'], { config: cfg });
    assert.equal(dup.code, 1);
    assert.match(dup.stderr, /exists already/);

    const gen = postamtSync(['account', 'add', 'anna@praxis.example', '--name', 'Dr. Anna', '--telematik-id', '1-20014711', '--quota', '2M'], { config: cfg });
    assert.equal(gen.code, 0, gen.stderr);
    assert.match(gen.stdout, /^added account anna@praxis\.example\npassword: \S{12,}\n$/);
    assert.equal(postamtSync(['account', 'add', 'ben@praxis.example', '--password-stdin'], { config: cfg, input: 'a secret from stdin\n' }).code, 0);

    const list = JSON.parse(postamtSync(['account', 'list', '--json'], { config: cfg }).stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(
      list.map((a) => [a.address, a.displayName, a.telematikId, a.quotaBytes, a.disabled]),
      [
        ['anna@praxis.example', 'Dr. Anna', '1-20014711', 2 * 1024 * 1024, false],
        ['ben@praxis.example', '', null, 0, false],
      ],
    );
    assert.equal(postamtSync(['account', 'disable', 'ben@praxis.example'], { config: cfg }).code, 0);
    assert.match(postamtSync(['account', 'list'], { config: cfg }).stdout, /ben@praxis\.example\t\tdisabled/);
    assert.equal(postamtSync(['account', 'disable', 'ben@praxis.example', '--enable'], { config: cfg }).code, 0);
    assert.match(postamtSync(['account', 'passwd', 'ben@praxis.example'], { config: cfg }).stdout, /password: \S+/);
    assert.equal(postamtSync(['account', 'quota', 'ben@praxis.example', '1G'], { config: cfg }).code, 0);

    const bad = postamtSync(['account', 'add', 'x@praxis.example', '--quota', 'lots'], { config: cfg });
    assert.notEqual(bad.code, 0);
    assert.match(bad.stderr, /expected a size/);
    const missing = postamtSync(['account', 'rm', 'nobody@praxis.example'], { config: cfg });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /does not exist/);

    assert.match(postamtSync(['domain', 'rm', 'praxis.example'], { config: cfg }).stderr, /still has 2 account/);
    assert.equal(postamtSync(['account', 'rm', 'anna@praxis.example'], { config: cfg }).code, 0);
    assert.equal(postamtSync(['account', 'rm', 'ben@praxis.example'], { config: cfg }).code, 0);
    assert.equal(postamtSync(['domain', 'rm', 'praxis.example'], { config: cfg }).code, 0);
    assert.equal(postamtSync(['domain', 'list'], { config: cfg }).stdout, '');
    assert.match(postamtSync(['store', 'gc'], { config: cfg }).stdout, /removed 0 unreferenced blobs/);
  } finally {
    d.cleanup();
  }
});

test('--help lists every command and the environment variables', () => {
  const r = postamtSync(['--help']);
  assert.equal(r.code, 0);
  for (const cmd of ['start', 'serve', 'config', 'domain', 'account', 'store', 'queue']) assert.match(r.stdout, new RegExp(`\\n  ${cmd}\\b`));
  assert.match(r.stdout, /POSTAMT_DATABASE_URL/);
  const sub = postamtSync(['account', 'add', '--help']);
  assert.match(sub.stdout, /--password-stdin/);
  const unknown = postamtSync(['frobnicate']);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderr, /unknown command/);
});

test('--version (and -V) prints the version of package.json and exits 0', () => {
  const { version } = JSON.parse(readFileSync(repositoryPath('package.json'), 'utf8')) as { version: string };
  for (const flag of ['--version', '-V']) {
    const r = postamtSync([flag]);
    assert.deepEqual([r.code, r.stdout, r.stderr], [0, `${version}\n`, ''], flag);
  }
  assert.match(postamtSync(['--help']).stdout, /-V, --version +print the version/);
});

test("commander's parse errors exit 2, as usage errors do, with the message on stderr; help still exits 0", () => {
  const run = (...args: string[]) => postamtSync(args);
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
    assert.equal(r.code, 2, `postamt ${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, message, args.join(' '));
    assert.equal(r.stdout, '', args.join(' '));
  }
  for (const args of [['--help'], ['domain', '--help'], ['help', 'account'], ['account', 'add', '--help']]) {
    const r = run(...args);
    assert.equal(r.code, 0, args.join(' '));
    assert.match(r.stdout, /^Usage: postamt/, args.join(' '));
  }
});

test('output into a pipe the reader has closed (postamt --help | head) ends quietly, without a stack trace', async () => {
  // Spawned by hand: the test closes the child's stdout itself, which no runner of whole runs does.
  const child = spawn(process.execPath, [repositoryPath('bin', 'postamt.js'), '--help'], { stdio: ['ignore', 'pipe', 'pipe'] });
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
    const list = postamtSync(['queue', 'list'], { config: cfg });
    assert.equal(list.code, 0, list.stderr);
    assert.match(list.stdout, /^#1\tQID1\twaiting\tattempts=0\tnext=\S+\tanna@praxis\.example -> bob@b\.test\t\d+B\n#2\tQID1\twaiting/);
    const json = JSON.parse(postamtSync(['queue', 'list', '--domain', 'C.Test', '--json'], { config: cfg }).stdout) as Array<Record<string, unknown>>;
    assert.deepEqual(json.map((e) => [e.id, e.recipient, e.state]), [[2, 'carol@c.test', 'waiting']]);
    assert.match(postamtSync(['queue', 'retry', '1'], { config: cfg }).stdout, /^1 entry due now/);
    assert.match(postamtSync(['queue', 'retry'], { config: cfg }).stdout, /^2 entries due now/);
    assert.match(postamtSync(['queue', 'retry', '9'], { config: cfg }).stderr, /queue entry 9 does not exist/);
    assert.equal(postamtSync(['queue', 'delete', '#1'], { config: cfg }).stdout, 'deleted queue entry #1\n');
    assert.match(postamtSync(['queue', 'delete', 'x'], { config: cfg }).stderr, /must be a whole number/);
    assert.equal(JSON.parse(postamtSync(['queue', 'list', '--json'], { config: cfg }).stdout).length, 1);
    assert.equal(postamtSync(['queue', 'delete', '2'], { config: cfg }).code, 0);
    const empty = postamtSync(['queue', 'list'], { config: cfg });
    assert.deepEqual([empty.code, empty.stdout, empty.stderr], [0, '', 'the relay queue is empty\n']);
    assert.match(postamtSync(['store', 'gc', '--grace', '0'], { config: cfg }).stdout, /removed 0 unreferenced blobs/, 'the last entry took its blob with it');
    const help = postamtSync(['queue', '--help'], { config: cfg }).stdout;
    for (const word of ['list', 'retry', 'delete', 'waiting', 'sending', 'DSN']) assert.match(help, new RegExp(word));
  } finally {
    d.cleanup();
  }
});
