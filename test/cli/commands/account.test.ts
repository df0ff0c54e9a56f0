import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../helpers/env.js';
import { postamtSync } from '../../helpers/process.js';
import { loadConfig } from '../../../src/config/index.js';
import { openStore } from '../../../src/store/index.js';

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

test('postamt account limits: shows and sets dataTimeToLive and maxMailSize (getLimits), `default` resets, KIM\'s bounds hold', () => {
  const d = tempDir();
  try {
    const cfg = join(d.path, 'postamt.yaml');
    writeFileSync(cfg, `dataDir: ${d.path}\nservice: { kim: { defaults: { dataTimeToLiveDays: 60 } } }\n`);
    postamtSync(['domain', 'add', 'praxis.example'], { config: cfg, check: true });
    postamtSync(['account', 'add', 'anna@praxis.example', '--quota', '2M'], { config: cfg, check: true });
    const json = (args: string[]) => JSON.parse(postamtSync(['account', 'limits', 'anna@praxis.example', ...args, '--json'], { config: cfg, check: true }).stdout) as Record<string, unknown>;
    assert.deepEqual(json([]), { address: 'anna@praxis.example', dataTimeToLive: 60, maxMailSize: 734003200, quota: 2097152, remainQuota: 2097152, own: { dataTimeToLive: null, maxMailSize: null } });
    assert.deepEqual(json(['--ttl-days', '30', '--max-mail-size', '1G']).own, { dataTimeToLive: 30, maxMailSize: 1024 ** 3 });
    assert.deepEqual(json(['--ttl-days', 'default']), { address: 'anna@praxis.example', dataTimeToLive: 60, maxMailSize: 1024 ** 3, quota: 2097152, remainQuota: 2097152, own: { dataTimeToLive: null, maxMailSize: 1024 ** 3 } });
    assert.match(postamtSync(['account', 'limits', 'anna@praxis.example'], { config: cfg }).stdout, /^dataTimeToLive\t60 days \(default\)\nmaxMailSize\t1073741824 bytes\nquota\t2097152 bytes\nremainQuota\t2097152 bytes\n$/);
    for (const bad of [['--ttl-days', '9'], ['--ttl-days', '366'], ['--max-mail-size', '500M']]) {
      const r = postamtSync(['account', 'limits', 'anna@praxis.example', ...bad], { config: cfg });
      assert.equal(r.code, 2, bad.join(' '));
      assert.match(r.stderr, /dataTimeToLive must be|maxMailSize must be/);
    }
    assert.notEqual(postamtSync(['account', 'limits', 'anna@praxis.example', '--ttl-days', 'soon'], { config: cfg }).code, 0);
    assert.equal(postamtSync(['account', 'limits', 'nobody@praxis.example'], { config: cfg }).code, 1);
  } finally {
    d.cleanup();
  }
});

test('postamt account show: the KIM registration (state, Telematik-ID, last change) and the limits with quota and used; unknown is exit 1', async () => {
  const d = tempDir();
  try {
    const cfg = join(d.path, 'postamt.yaml');
    writeFileSync(cfg, `dataDir: ${d.path}\nservice: { kim: { defaults: { dataTimeToLiveDays: 60 } } }\n`);
    postamtSync(['domain', 'add', 'praxis.example'], { config: cfg, check: true });
    postamtSync(['account', 'add', 'anna@praxis.example', '--telematik-id', '1-20014711', '--quota', '2M'], { config: cfg, check: true });
    assert.equal(
      postamtSync(['account', 'show', 'anna@praxis.example'], { config: cfg, check: true }).stdout,
      [
        'address\tanna@praxis.example',
        'telematikId\t1-20014711',
        'registration\tcreated',
        'kimVersion\t-',
        'referenceID\t-',
        'lastChange\t-',
        'dataTimeToLive\t60 days (default)',
        'maxMailSize\t734003200 bytes (default)',
        'quota\t2097152 bytes',
        'used\t0 bytes',
        'remainQuota\t2097152 bytes',
        '',
      ].join('\n'),
    );
    // A deregistration as the Account Manager writes it (its HTTP flow is test/http/admin-kim.test.ts).
    const deregDate = Math.floor(Date.parse('2031-01-02T03:04:05Z') / 1000);
    const { config } = loadConfig(cfg, {});
    const store = await openStore(config);
    try {
      await store.db.updateTable('accounts').set({ kim_reg_stat: 'deregistered', kim_dereg_date: deregDate, kim_version: '1.5', kim_changed_at: Date.parse('2030-12-03T03:04:05Z') }).where('address', '=', 'anna@praxis.example').execute();
    } finally {
      await store.close();
    }
    const out = postamtSync(['account', 'show', 'anna@praxis.example'], { config: cfg, check: true }).stdout;
    assert.match(out, /^registration\tderegistration pending, deleted after 2031-01-02T03:04:05\.000Z$/m);
    assert.match(out, /^lastChange\t2030-12-03T03:04:05\.000Z$/m);
    assert.match(out, /^kimVersion\t1\.5$/m);
    const json = JSON.parse(postamtSync(['account', 'show', 'anna@praxis.example', '--json'], { config: cfg, check: true }).stdout) as Record<string, unknown>;
    assert.deepEqual(json['registration'], { state: 'deregistration-pending', kimVersion: '1.5', referenceID: null, deregDate: '2031-01-02T03:04:05.000Z', changedAt: '2030-12-03T03:04:05.000Z' });
    assert.deepEqual(json['limits'], { dataTimeToLive: 60, maxMailSize: 734003200, quota: 2097152, remainQuota: 2097152, used: 0 });
    const listed = JSON.parse(postamtSync(['account', 'list', '--json'], { config: cfg, check: true }).stdout) as Array<{ registration: { state: string } }>;
    assert.equal(listed[0]!.registration.state, 'deregistration-pending');
    const missing = postamtSync(['account', 'show', 'nobody@praxis.example'], { config: cfg });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /does not exist/);
  } finally {
    d.cleanup();
  }
});
