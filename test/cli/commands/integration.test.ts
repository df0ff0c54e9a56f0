import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shaCrypt } from '../../../src/integration/index.js';
import { tempDir } from '../../helpers/env.js';

function cli(cfg: string, args: string[], input?: string): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['bin/postamt.js', '-c', cfg, ...args], { encoding: 'utf8', input });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('postamt integration sources / test --source: lists, tries an authentication, exit codes, bad input', () => {
  const d = tempDir();
  try {
    const cfg = join(d.path, 'postamt.yaml');
    writeFileSync(
      cfg,
      `dataDir: ${d.path}\nlog: { level: silent }\nintegration:\n  authSource: users\n  sources:\n    - { name: users, type: file, path: users.csv, priority: 5 }\n    - { name: accounts, type: accounts }\n`,
    );
    writeFileSync(join(d.path, 'users.csv'), `userName,fullName,password\njohn.doe,John Doe,${shaCrypt('Passw0rd', '$6$pepper')}\njane,Jane,\nbroken\n`);
    const sources = cli(cfg, ['integration', 'sources']);
    assert.equal(sources.status, 0, sources.stderr);
    assert.deepEqual(sources.stdout.trim().split('\n'), ['users  type=file  priority=5  (authSource)', 'accounts  type=accounts  priority=100']);

    const ok = cli(cfg, ['integration', 'test', '--source', 'users', '--user', 'john.doe', '--password-stdin'], 'Passw0rd\n');
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stdout, /^source users \(file\): 2 user\(s\) listed in \d+ ms$/m);
    assert.match(ok.stdout, /^ {2}john\.doe {2}"John Doe"$/m);
    assert.match(ok.stdout, /skipped: line 4: 1 fields, the header has 3/);
    assert.match(ok.stdout, /^auth john\.doe: succeeded$/m);

    const bad = cli(cfg, ['integration', 'test', '--source', 'users', '--user', 'john.doe', '--password-stdin', '--json', '--limit', '1'], 'wrong');
    assert.equal(bad.status, 1);
    const j = JSON.parse(bad.stdout) as { users: number; first: unknown[]; authenticated: boolean };
    assert.equal(j.users, 2);
    assert.equal(j.first.length, 1);
    assert.equal(j.authenticated, false);

    const unknown = cli(cfg, ['integration', 'test', '--source', 'users', '--user', 'nobody', '--password-stdin'], 'x');
    assert.equal(unknown.status, 1);
    assert.match(unknown.stdout, /auth nobody: unknown user/);

    const none = cli(cfg, ['integration', 'test', '--source', 'nope']);
    assert.equal(none.status, 2);
    assert.match(none.stderr, /no source named nope \(have: users, accounts\)/);
    const noStdin = cli(cfg, ['integration', 'test', '--source', 'users', '--user', 'x']);
    assert.equal(noStdin.status, 2);
    assert.match(noStdin.stderr, /--password-stdin/);

    writeFileSync(join(d.path, 'users.csv'), 'name,password\n');
    const broken = cli(cfg, ['integration', 'test', '--source', 'users']);
    assert.equal(broken.status, 1);
    assert.match(broken.stderr, /must name the columns/);

    // Configuration mistakes are named by key.
    writeFileSync(cfg, `dataDir: ${d.path}\nintegration:\n  authSource: missing\n  sources:\n    - { name: db, type: sql, url: 'sqlite:x.db', listQuery: 'SELECT 1' }\n`);
    const invalid = cli(cfg, ['config', 'check']);
    assert.notEqual(invalid.status, 0);
    assert.match(invalid.stderr, /integration\.sources\.0.*exactly one of passwordQuery and authQuery/);
    assert.match(invalid.stderr, /integration\.authSource: authSource must name one of the sources/);
  } finally {
    d.cleanup();
  }
});
