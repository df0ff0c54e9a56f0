// The software Konnektor's worker thread: signs and encrypts with the cms layer, off the
// caller's event loop (src/crypto/konnektor/worker-pool.ts). It holds no policy: the context
// checks and the choice of key happen in the calling thread, before a request is posted.
import { parentPort } from 'node:worker_threads';
import type { KeyObject } from 'node:crypto';
import { CmsError, encryptAuthEnveloped, signData, type EnvelopeRecipient, type SignerKey, type RecipientEmail, type SignatureSchemeName } from '../cms/index.js';

export type WorkerRequest =
  | {
      id: number;
      op: 'sign';
      content: Uint8Array;
      /** A signer key the worker has not seen yet comes with its first request; later ones name it by `keyId`. */
      keyId: number;
      key?: { certDer: Uint8Array; privateKey: KeyObject };
      scheme: SignatureSchemeName;
      recipientEmails: readonly RecipientEmail[];
      signingTime?: Date;
    }
  | { id: number; op: 'encrypt'; content: Uint8Array; recipients: readonly EnvelopeRecipient[] };

export type WorkerReply = { id: number; ok: true; der: Uint8Array } | { id: number; ok: false; error: { cms: boolean; code: string; message: string } };

const keys = new Map<number, SignerKey>();

function handle(req: WorkerRequest): Uint8Array {
  if (req.op === 'sign') {
    if (req.key) keys.set(req.keyId, req.key);
    const key = keys.get(req.keyId);
    if (!key) throw new Error(`signer key ${req.keyId} unknown to the worker`);
    return signData(req.content, key, { scheme: req.scheme, recipientEmails: req.recipientEmails, signingTime: req.signingTime });
  }
  return encryptAuthEnveloped(req.content, req.recipients);
}

parentPort?.on('message', (req: WorkerRequest) => {
  let reply: WorkerReply;
  const transfer: ArrayBuffer[] = [];
  try {
    let der = handle(req);
    // The result goes back without a copy when it owns its memory (writeDer allocates exactly).
    if (der.byteOffset !== 0 || der.byteLength !== der.buffer.byteLength || !(der.buffer instanceof ArrayBuffer)) der = new Uint8Array(der);
    transfer.push(der.buffer as ArrayBuffer);
    reply = { id: req.id, ok: true, der };
  } catch (err) {
    const cms = err instanceof CmsError;
    reply = { id: req.id, ok: false, error: { cms, code: cms ? err.code : 'internal', message: err instanceof Error ? err.message : String(err) } };
  }
  parentPort!.postMessage(reply, transfer);
});
