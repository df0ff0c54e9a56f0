import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { repositoryPath } from '../helpers/env.js';
import { postamtSync } from '../helpers/process.js';

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

