import { availableParallelism } from 'node:os';
import type { ScryptOptions } from 'node:crypto';
import { RequestThread, ThreadSet } from '../core/request-thread.js';

/**
 * scrypt on password threads of its own. On libuv's pool (where node:crypto's async scrypt
 * runs) a burst of wrong passwords queued ahead of the store's disk syncs, so a `250` waited
 * for other people's guesses. The number of threads bounds how many CPUs password checks can
 * take; the login gate (core/login-throttle.ts) bounds how many are waiting.
 */
const WORKER_URL = new URL('./password-worker.js', import.meta.url);

export interface PasswordRequest {
  kind: 'hash' | 'verify';
  password: string;
  salt: Uint8Array;
  keylen: number;
  options: ScryptOptions;
  expected?: Uint8Array;
}

/** Half the machine's CPUs, at least one: the rest stays with the sessions and the store. */
export const DEFAULT_PASSWORD_THREADS = Math.max(1, Math.floor(availableParallelism() / 2));

let size = DEFAULT_PASSWORD_THREADS;
let threads: ThreadSet | undefined;

/** Sets the number of password threads (`service.passwordThreads`); before the first check. */
export function setPasswordThreads(n: number): void {
  if (n === size) return;
  size = n;
  const old = threads;
  threads = undefined;
  void old?.close();
}

export function scryptOnThread<T extends boolean | Uint8Array>(request: PasswordRequest): Promise<T> {
  threads ??= new ThreadSet(size, () => new RequestThread(WORKER_URL, { resourceLimits: { maxOldGenerationSizeMb: 64 } }, 'password thread'));
  return threads.pick().call<T>(request);
}
