import { RequestThread, ThreadSet } from '../../core/request-thread.js';
import { SHA_CRYPT_MAX_ROUNDS, isShaCrypt, shaCryptRounds } from './sha-crypt.js';

/**
 * SHA-crypt checks on worker threads. Its rounds are a loop of hashes in JavaScript: about 10 ms
 * for crypt(3)'s default 5000 rounds, seconds for passlib's 656,000, time during which the event
 * loop would serve no SMTP, POP3 or HTTP session. (scrypt and argon2 run on libuv's pool and
 * bcryptjs yields between rounds; this is the one kind that needed a thread.) Two threads, made
 * on first use, idle ones not keeping the process alive.
 */
const WORKER_URL = new URL('./sha-crypt-worker.js', import.meta.url);
const THREADS = 2;

export interface ShaCryptRequest {
  password: string;
  stored: string;
}

/** A well-formed hash this server will not check: it asks for more than SHA_CRYPT_MAX_ROUNDS rounds. */
export class UnverifiableHashError extends Error {
  constructor(readonly rounds: number) {
    super(`a SHA-crypt hash asks for ${rounds} rounds, more than the ${SHA_CRYPT_MAX_ROUNDS} this server computes: the password must be hashed again with fewer`);
    this.name = 'UnverifiableHashError';
  }
}

let threads: ThreadSet | undefined;

/**
 * Whether `password` matches the SHA-crypt hash `stored` (false for a malformed one); throws
 * UnverifiableHashError, computing nothing, for a hash above the rounds cap.
 */
export async function verifyShaCryptOffLoop(password: string, stored: string): Promise<boolean> {
  if (!isShaCrypt(stored)) return false;
  const rounds = shaCryptRounds(stored)!;
  if (rounds > SHA_CRYPT_MAX_ROUNDS) throw new UnverifiableHashError(rounds);
  threads ??= new ThreadSet(THREADS, () => new RequestThread(WORKER_URL, { resourceLimits: { maxOldGenerationSizeMb: 64 } }, 'SHA-crypt thread'));
  return threads.pick().call<boolean>({ password, stored } satisfies ShaCryptRequest);
}
