import assert from 'node:assert/strict';

/**
 * The error `fn` throws, which must be an instance of `type`: fails when it throws something
 * else or nothing. For the typed errors (reason, code, offset) the tests look into.
 */
export function thrown<E extends Error>(type: abstract new (...args: never[]) => E, fn: () => unknown): E {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof type, `expected ${type.name}, got ${String(err)}`);
    return err;
  }
  assert.fail(`expected ${type.name} to be thrown`);
}
