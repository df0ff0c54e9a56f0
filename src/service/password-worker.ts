import { scryptSync, timingSafeEqual } from 'node:crypto';
import { answerRequests } from '../core/request-thread.js';
import type { PasswordRequest } from './password-threads.js';

/**
 * The thread side of password-threads.ts. scryptSync runs on this thread itself, not on libuv's
 * pool, which is the point: the pool belongs to the store's disk syncs.
 */
answerRequests<PasswordRequest & { id: number }>((req) => {
  const key = scryptSync(req.password, Buffer.from(req.salt), req.keylen, req.options);
  if (req.kind === 'hash') return new Uint8Array(key);
  return timingSafeEqual(key, Buffer.from(req.expected!));
});
