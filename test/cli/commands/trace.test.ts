import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../helpers/env.js';
import { loadConfig } from '../../../src/config/index.js';
import { GroupCommit, openStore } from '../../../src/store/index.js';
import { MessageTrace } from '../../../src/service/index.js';
import { postamtSync } from '../../helpers/process.js';

test('postamt message trace: by Message-ID or address, events in order, --json, --help; nothing found: exit 1; usage errors: exit 2', async () => {
  const d = tempDir();
  try {
    const cfg = join(d.path, 'postamt.yaml');
    writeFileSync(cfg, `dataDir: ${d.path}\n`);
    const { config } = loadConfig(cfg, {});
    const store = await openStore(config);
    try {
      const trace = new MessageTrace(store.db, new GroupCommit(store.db), { retentionDays: 30, node: 'node-1' });
      trace.accepted({
          queueId: 'QID1',
          receivedAt: Date.UTC(2026, 11, 7, 10),
          mailFrom: 'anna@praxis.example',
          recipients: ['bob@praxis.example'],
          size: 2048,
          header: { messageId: 'befund-1@pvs.example', komle: true },
          session: { listener: 'smtp-submission', clientIp: '127.0.0.1', tls: { protocol: 'TLSv1.3', cipher: 'TLS_AES_256_GCM_SHA384' }, authUser: 'anna@praxis.example' },
          refused: [],
          delivered: [{ address: 'bob@praxis.example', mailboxMessageId: 7 }],
          relayed: [],
          mailin: [],
        });
      // Written behind the delivery; close writes what is pending.
      await trace.close();
    } finally {
      await store.close();
    }
    const byId = postamtSync(['message', 'trace', '<befund-1@pvs.example>'], { config: cfg });
    assert.equal(byId.code, 0, byId.stderr);
    const lines = byId.stdout.trimEnd().split('\n');
    assert.match(lines[0]!, /^QID1  2026-12-07T10:00:00\.000Z  delivered  <befund-1@pvs\.example>  anna@praxis\.example -> bob@praxis\.example  2048 B  KOM-LE$/);
    assert.deepEqual(lines.slice(1).map((l) => l.trim().split(/\s+/)[1]), ['accepted', 'stored', 'delivered']);
    assert.match(lines[1]!, /\[node-1\] listener=smtp-submission clientIp=127\.0\.0\.1 tls=\{"protocol":"TLSv1\.3"/);
    assert.match(lines[2]!, /content=ciphertext/);
    // The same by address (a Message-ID lookup finds nothing first), and as JSON.
    const json = JSON.parse(postamtSync(['message', 'trace', 'BOB@praxis.example', '--json'], { config: cfg }).stdout) as Array<{ id: string; events: unknown[] }>;
    assert.deepEqual(json.map((m) => [m.id, m.events.length]), [['QID1', 3]]);
    const none = postamtSync(['message', 'trace', 'nobody@praxis.example'], { config: cfg });
    assert.deepEqual([none.code, none.stdout, none.stderr], [1, '', 'no traced message for nobody@praxis.example\n']);
    assert.equal(postamtSync(['message', 'trace', 'anna@praxis.example', '--message-id'], { config: cfg }).code, 1, '--message-id: not looked up as an address');
    assert.equal(postamtSync(['message', 'trace', 'anna@praxis.example', '--to', '2026-12-01'], { config: cfg }).code, 1, 'before the time window');
    for (const args of [['--limit', '0'], ['--from', 'gestern'], ['--message-id', '--address'], ['--from', '2026-12-08', '--to', '2026-12-07']]) {
      const r = postamtSync(['message', 'trace', 'x@y.example', ...args], { config: cfg });
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    }
    const help = postamtSync(['message', 'trace', '--help'], { config: cfg }).stdout;
    for (const word of ['--message-id', '--address', '--from', '--to', '--limit', '--json', 'retentionDays', 'Examples', 'Exit status']) assert.ok(help.includes(word), word);
  } finally {
    d.cleanup();
  }
});
