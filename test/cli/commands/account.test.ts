import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../helpers/env.js';
import { postamtSync } from '../../helpers/process.js';

// `postamt domain` and `postamt account`: the administration of the service's domains and accounts.

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
