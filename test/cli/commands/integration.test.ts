import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { shaCrypt } from '../../../src/integration/index.js';
import { tempDir } from '../../helpers/env.js';
import { postamtSync } from '../../helpers/process.js';

test('postamt integration sources / test --source: lists, tries an authentication, exit codes, bad input', () => {
  const d = tempDir();
  try {
    const cfg = join(d.path, 'postamt.yaml');
    writeFileSync(
      cfg,
      `dataDir: ${d.path}\nlog: { level: silent }\nintegration:\n  authSource: users\n  sources:\n    - { name: users, type: file, path: users.csv, priority: 5 }\n    - { name: accounts, type: accounts }\n`,
    );
    writeFileSync(join(d.path, 'users.csv'), `userName,fullName,password\njohn.doe,John Doe,${shaCrypt('Passw0rd', '$6$pepper')}\njane,Jane,\nbroken\n`);
    const sources = postamtSync(['integration', 'sources'], { config: cfg });
    assert.equal(sources.code, 0, sources.stderr);
    assert.deepEqual(sources.stdout.trim().split('\n'), ['users  type=file  priority=5  (authSource)', 'accounts  type=accounts  priority=100']);

    const ok = postamtSync(['integration', 'test', '--source', 'users', '--user', 'john.doe', '--password-stdin'], { config: cfg, input: 'Passw0rd\n' });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stdout, /^source users \(file\): 2 user\(s\) listed in \d+ ms$/m);
    assert.match(ok.stdout, /^ {2}john\.doe {2}"John Doe"$/m);
    assert.match(ok.stdout, /skipped: line 4: 1 fields, the header has 3/);
    assert.match(ok.stdout, /^auth john\.doe: succeeded$/m);

    const bad = postamtSync(['integration', 'test', '--source', 'users', '--user', 'john.doe', '--password-stdin', '--json', '--limit', '1'], { config: cfg, input: 'wrong' });
    assert.equal(bad.code, 1);
    const j = JSON.parse(bad.stdout) as { users: number; first: unknown[]; authenticated: boolean };
    assert.equal(j.users, 2);
    assert.equal(j.first.length, 1);
    assert.equal(j.authenticated, false);

    const unknown = postamtSync(['integration', 'test', '--source', 'users', '--user', 'nobody', '--password-stdin'], { config: cfg, input: 'x' });
    assert.equal(unknown.code, 1);
    assert.match(unknown.stdout, /auth nobody: unknown user/);

    const none = postamtSync(['integration', 'test', '--source', 'nope'], { config: cfg });
    assert.equal(none.code, 2);
    assert.match(none.stderr, /no source named nope \(have: users, accounts\)/);
    const noStdin = postamtSync(['integration', 'test', '--source', 'users', '--user', 'x'], { config: cfg });
    assert.equal(noStdin.code, 2);
    assert.match(noStdin.stderr, /--password-stdin/);

    writeFileSync(join(d.path, 'users.csv'), 'name,password\n');
    const broken = postamtSync(['integration', 'test', '--source', 'users'], { config: cfg });
    assert.equal(broken.code, 1);
    assert.match(broken.stderr, /must name the columns/);

    // Configuration mistakes are named by key.
    writeFileSync(cfg, `dataDir: ${d.path}\nintegration:\n  authSource: missing\n  sources:\n    - { name: db, type: sql, url: 'sqlite:x.db', listQuery: 'SELECT 1' }\n`);
    const invalid = postamtSync(['config', 'check'], { config: cfg });
    assert.notEqual(invalid.code, 0);
    assert.match(invalid.stderr, /integration\.sources\.0.*exactly one of passwordQuery and authQuery/);
    assert.match(invalid.stderr, /integration\.authSource: authSource must name one of the sources/);
  } finally {
    d.cleanup();
  }
});
