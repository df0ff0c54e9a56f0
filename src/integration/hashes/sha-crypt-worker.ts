import { answerRequests } from '../../core/request-thread.js';
import { verifyShaCrypt } from './sha-crypt.js';
import type { ShaCryptRequest } from './sha-crypt-threads.js';

/** The thread side of sha-crypt-threads.ts: one SHA-crypt check per request. */
answerRequests<ShaCryptRequest & { id: number }>((req) => verifyShaCrypt(req.password, req.stored));
