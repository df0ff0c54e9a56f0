import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { RequestThread, ThreadSet } from '../../src/core/index.js';

/** A real worker thread: echoes, answers slowly, throws, or dies, as asked. */
function workerFile(dir: string): URL {
  const file = join(dir, 'worker.mjs');
  writeFileSync(
    file,
    `import { parentPort } from 'node:worker_threads';
parentPort.on('message', (m) => {
  if (m.op === 'die') process.exit(3);
  if (m.op === 'throw') return parentPort.postMessage({ id: m.id, ok: false, error: 'refused: ' + m.why });
  if (m.op === 'slow') return setTimeout(() => parentPort.postMessage({ id: m.id, ok: true, value: m.value }), 200);
  parentPort.postMessage({ id: m.id, ok: true, value: m.value });
});`,
  );
  return pathToFileURL(file);
}

describe('request threads (core/request-thread.ts)', () => {
  test('answers by id; a thread that dies fails the calls it held and the set replaces it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'postamt-rt-'));
    const url = workerFile(dir);
    let made = 0;
    const set = new ThreadSet(2, () => {
      made++;
      return new RequestThread(url, {}, 'test thread');
    });
    try {
      const t = set.pick();
      assert.deepEqual(await Promise.all([t.call({ op: 'echo', value: 1 }), t.call({ op: 'echo', value: { a: [2] } })]), [1, { a: [2] }]);
      await assert.rejects(t.call({ op: 'throw', why: 'no' }), /refused: no/);
      // A request that cannot be sent fails at once and is not left in progress.
      await assert.rejects(t.call({ op: 'echo', value: () => 1 }), /could not be cloned/);
      assert.equal(t.load, 0);
      // The least busy thread takes the next call: with one call in progress on the first, the second is made.
      const slow = t.call({ op: 'slow', value: 'late' });
      const other = set.pick();
      assert.notEqual(other, t);
      assert.equal(made, 2);
      // The first dies with a call in progress: that call fails, naming the thread; the other is untouched.
      const dying = t.call({ op: 'die' });
      await assert.rejects(slow, /the test thread stopped \(exit code 3\)/);
      await assert.rejects(dying, /stopped/);
      assert.equal(t.dead, true);
      assert.equal(await other.call({ op: 'echo', value: 'still here' }), 'still here');
      // The dead one is replaced on the next pick.
      const fresh = set.pick();
      assert.notEqual(fresh, t);
      assert.equal(made, 3);
      assert.equal(await fresh.call({ op: 'echo', value: 'new' }), 'new');
    } finally {
      await set.close();
      rmSync(dir, { recursive: true, force: true });
    }
    assert.throws(() => set.pick(), /closed/);
  });
});
