// Waiting for state that has no event to wait on from outside the process that changes it (a
// job's row in the store, a file in a directory, a counter). Where an event exists, the tests
// wait on it instead.

/**
 * Waits until `check` returns a truthy value, looking again every 20 ms, and fails with `what`
 * after the deadline.
 */
export async function until<T>(what: string, check: () => Promise<T | undefined | null | false> | T | undefined | null | false, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * Waits until `read()` gives the same value `rounds` looks in a row, `intervalMs` apart, and
 * returns it: for a process that stops by itself (a writer blocked by backpressure), where
 * "nothing happens any more" is the thing to observe.
 */
export async function untilSteady<T>(read: () => T, rounds = 5, intervalMs = 40): Promise<T> {
  let last = read();
  for (let still = 0; still < rounds; ) {
    await new Promise((r) => setTimeout(r, intervalMs));
    const now = read();
    still = now === last ? still + 1 : 0;
    last = now;
  }
  return last;
}
