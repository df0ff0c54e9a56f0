import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openTestStore } from '../../helpers/env.js';
import { postamt } from '../../helpers/process.js';

const SECRET = 'a-long-shared-secret-0123456789';

describe('postamt mailin (CLI)', () => {
  test('add, agent add, list; bad configuration refused with exit code 2 and a clear message; --help is complete', async () => {
    const ts = (await openTestStore('sqlite'))!;
    const cfg = join(ts.dir, 'postamt.yaml');
    writeFileSync(cfg, `dataDir: ${ts.dir}\nlog:\n  level: silent\nmailin:\n  webhook:\n    allowLoopbackTargets: true\n`);
    /** The real CLI; it must succeed (the failures below are run with `fails`). */
    const cli = (...args: string[]) => postamt(args, { config: cfg, check: true });
    const fails = (...args: string[]) => postamt(args, { config: cfg });
    try {
      await cli('domain', 'add', 'example.test');
      assert.match((await cli('mailin', 'add', 'approvals@example.test', '--name', 'OA approvals')).stdout, /added mail-in database approvals@example\.test/);
      const a = await cli('mailin', 'agent', 'add', 'approvals@example.test', '--trigger', 'before-delivery', '--webhook', 'http://127.0.0.1:9/h', '--secret', SECRET, '--timeout-ms', '5000');
      assert.match(a.stdout, /added before-delivery webhook agent #1/);
      const second = await fails('mailin', 'agent', 'add', 'approvals@example.test', '--trigger', 'before-delivery', '--webhook', 'http://127.0.0.1:9/h', '--secret', SECRET);
      assert.equal(second.code, 1);
      assert.match(second.stderr, /already .* at most one/);
      const noSecret = await fails('mailin', 'agent', 'add', 'approvals@example.test', '--trigger', 'after-delivery', '--webhook', 'http://127.0.0.1:9/h');
      assert.equal(noSecret.code, 2);
      assert.match(noSecret.stderr, /^postamt: a webhook agent needs --secret/);
      // The target policy: metadata never; the configured listeners (SMTP MX on 127.0.0.1:2525 by default) never, loopback allowed or not.
      const metadata = await fails('mailin', 'agent', 'add', 'approvals@example.test', '--trigger', 'after-delivery', '--webhook', 'http://169.254.169.254/latest/meta-data/', '--secret', SECRET);
      assert.equal(metadata.code, 2);
      assert.match(metadata.stderr, /^postamt: --webhook: 169\.254\.169\.254 is a cloud metadata address, which is never called/);
      const own = await fails('mailin', 'agent', 'add', 'approvals@example.test', '--trigger', 'after-delivery', '--webhook', 'http://localhost:2525/', '--secret', SECRET);
      assert.equal(own.code, 2);
      assert.match(own.stderr, /own listeners/);
      const list = await cli('mailin', 'agent', 'list', '--json');
      assert.equal(JSON.parse(list.stdout)[0].url, 'http://127.0.0.1:9/h');
      assert.ok(!list.stdout.includes(SECRET), 'secrets are never printed');
      assert.match((await cli('mailin', 'jobs', '--dead')).stdout, /^$/);
      assert.match((await cli('mailin', 'documents', 'approvals@example.test')).stdout, /^$/);
      const help = (await cli('mailin', '--help')).stdout;
      for (const c of ['add', 'list', 'rm', 'documents', 'agent', 'jobs', 'retry', 'runs']) assert.match(help, new RegExp(`\\n  ${c}\\b`));
      const agentHelp = (await cli('mailin', 'agent', 'add', '--help')).stdout;
      for (const o of ['--trigger', '--webhook', '--secret', '--script', '--timeout-ms', '--on-failure', '--include-raw']) assert.ok(agentHelp.includes(o), o);
      assert.match((await cli('mailin', 'rm', 'approvals@example.test')).stdout, /removed mail-in database/);
    } finally {
      await ts.close();
    }
  });
});
