import { test } from 'node:test';
import assert from 'node:assert/strict';
import { CombinedSource, type UserSource } from '../../src/integration/index.js';
import { collect } from '../helpers/stream.js';

test('combined source: ascending priority, ties in order, duplicates hidden case-insensitively, unknown everywhere → false', async () => {
  const mk = (name: string, priority: number, names: string[], answers: Record<string, boolean>): UserSource => ({
    name,
    priority,
    type: 'test',
    async *list() {
      for (const n of names) yield { userName: n, fullName: name };
    },
    async authenticate(u: string) {
      return u in answers ? answers[u]! : null;
    },
  });
  const c = new CombinedSource([mk('late', 20, ['a', 'B'], { a: true }), mk('early', 10, ['b', 'c'], { a: false, c: true }), mk('tie', 20, ['d'], {})]);
  assert.deepEqual(c.sources.map((s) => s.name), ['early', 'late', 'tie']);
  assert.deepEqual((await collect(c.list())).map((u) => `${u.userName}/${u.fullName}`), ['b/early', 'c/early', 'a/late', 'd/tie']);
  assert.equal(await c.authenticate('a', 'x'), false);
  assert.equal(await c.authenticate('c', 'x'), true);
  assert.equal(await c.authenticate('zz', 'x'), false);
});
