import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { tempDir } from '../../helpers/env.js';
import { loadConfig } from '../../../src/config/index.js';
import { openStore, writeBlob } from '../../../src/store/index.js';
import { RelayQueue } from '../../../src/service/relay/index.js';
import { postamtSync } from '../../helpers/process.js';

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
