import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openTestStore, STORE_KINDS } from '../helpers/env.js';
import { Accounts } from '../../src/service/index.js';
import { MailinAdmin } from '../../src/mailin/index.js';

const SECRET = 'a-long-shared-secret-0123456789';
for (const kind of STORE_KINDS) {
  describe(`mail-in administration over ${kind}`, () => {
    test('bad databases and agents are refused with a clear message', async (t) => {
      const ts = await openTestStore(kind, { mailin: { webhook: { allowHosts: ['127.0.0.1', 'hooks.example.test'], allowLoopbackTargets: true } } });
      if (!ts) return t.skip('PostgreSQL explicitly skipped');
      try {
        const accounts = new Accounts(ts.store.db, ts.store.blobs);
        await accounts.addDomain('example.test');
        await accounts.add({ address: 'anna@example.test', password: 'correct horse battery' });
        const m = new MailinAdmin(ts.store.db, ts.store.blobs, ts.store.secrets, accounts, ts.config.mailin);
        await assert.rejects(m.addDatabase({ address: 'in@elsewhere.test', name: 'x' }), /not a local domain/);
        await assert.rejects(m.addDatabase({ address: 'anna@example.test', name: 'x' }), /is an account's address/);
        await assert.rejects(m.addDatabase({ address: 'not an address', name: 'x' }), /not a valid mail address/);
        await assert.rejects(m.addDatabase({ address: 'in@example.test', name: '' }), /needs --name/);
        await m.addDatabase({ address: 'In@Example.test', name: 'Inbox' });
        await assert.rejects(m.addDatabase({ address: 'in@example.test', name: 'again' }), /exists already/);

        const ok = { trigger: 'before-delivery', webhook: 'http://127.0.0.1:9/hook', secret: SECRET };
        await assert.rejects(m.addAgent('nobody@example.test', ok), /mail-in database nobody@example\.test does not exist/);
        await assert.rejects(m.addAgent('in@example.test', { ...ok, trigger: 'sometimes' }), /--trigger must be/);
        await assert.rejects(m.addAgent('in@example.test', { ...ok, webhook: 'ftp://127.0.0.1/x' }), /only http:\/\/ and https:\/\//);
        await assert.rejects(m.addAgent('in@example.test', { ...ok, webhook: 'https://evil.test/x' }), /not in mailin\.webhook\.allowHosts/);
        await assert.rejects(m.addAgent('in@example.test', { ...ok, webhook: 'http://user:pw@127.0.0.1/x' }), /credentials in the URL/);
        await assert.rejects(m.addAgent('in@example.test', { trigger: 'after-delivery', webhook: 'http://127.0.0.1/x' }), /needs --secret/);
        await assert.rejects(m.addAgent('in@example.test', { ...ok, secret: 'short' }), /at least 16 characters/);
        await assert.rejects(m.addAgent('in@example.test', { trigger: 'after-delivery' }), /exactly one of --webhook/);
        await assert.rejects(m.addAgent('in@example.test', { ...ok, script: '/x.mjs' }), /exactly one of --webhook/);
        await assert.rejects(m.addAgent('in@example.test', { trigger: 'after-delivery', script: join(ts.dir, 'missing.mjs') }), /no such file/);
        mkdirSync(join(ts.dir, 'dir.mjs'));
        await assert.rejects(m.addAgent('in@example.test', { trigger: 'after-delivery', script: join(ts.dir, 'dir.mjs') }), /no such file/);
        writeFileSync(join(ts.dir, 'agent.py'), 'print(1)');
        await assert.rejects(m.addAgent('in@example.test', { trigger: 'after-delivery', script: join(ts.dir, 'agent.py') }), /expected a JavaScript module/);
        await assert.rejects(m.addAgent('in@example.test', { ...ok, timeoutMs: 10 }), /--timeout-ms must be/);
        await assert.rejects(m.addAgent('in@example.test', { ...ok, trigger: 'after-delivery', onFailure: 'accept' }), /applies to before-delivery/);
        await assert.rejects(m.addAgent('in@example.test', { ...ok, onFailure: 'shrug' }), /tempfail or accept/);
        await assert.rejects(m.addAgent('in@example.test', { ...ok, secret: 12345678901234567 as never }), /secret must be a string/);

        await m.addAgent('in@example.test', ok);
        await assert.rejects(m.addAgent('in@example.test', ok), /has a before-delivery agent already .* at most one/);
        await m.addAgent('in@example.test', { ...ok, trigger: 'after-delivery' });
        await m.addAgent('in@example.test', { ...ok, trigger: 'after-delivery' });
        assert.equal((await m.listAgents('in@example.test')).length, 3);
        assert.ok((await m.listAgents()).every((a) => a.secret === undefined));
        await assert.rejects(m.documents('in@example.test', { since: 'yesterday' }), /not a time/);
        await assert.rejects(m.documents('in@example.test', { after: 'x' }), /previous page/);
        await assert.rejects(m.jobs({ state: 'sleeping' }), /state must be/);
        await assert.rejects(m.removeAgent(999), /does not exist/);
        await m.removeDatabase('in@example.test');
        assert.equal((await m.listAgents()).length, 0);
      } finally {
        await ts.close();
      }
    });
  });
}
