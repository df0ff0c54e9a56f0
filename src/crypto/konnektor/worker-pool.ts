import { Worker } from 'node:worker_threads';
import type { KeyObject } from 'node:crypto';
import { CmsError, type CmsErrorCode, type EnvelopeRecipient, type RecipientEmail, type SignatureSchemeName } from '../cms/index.js';
import { KonnektorError } from './errors.js';
import type { WorkerReply, WorkerRequest } from './crypto-worker.js';

interface Pending {
  resolve(der: Uint8Array): void;
  reject(err: Error): void;
}

interface Slot {
  worker: Worker;
  /** Requests posted and not answered yet. */
  pending: Map<number, Pending>;
  /** Signer keys this worker already holds. */
  keys: Set<number>;
}

/** A view that owns its memory: a structured clone copies a view's whole ArrayBuffer, not just the view. */
function compact(u8: Uint8Array): Uint8Array {
  return u8.byteOffset === 0 && u8.byteLength === u8.buffer.byteLength ? u8 : new Uint8Array(u8);
}

function compactRecipients(list: readonly EnvelopeRecipient[]): EnvelopeRecipient[] {
  return list.map((r) => ({ certDer: compact(r.certDer), email: r.email }));
}

function compactEmails(list: readonly RecipientEmail[]): RecipientEmail[] {
  return list.map((e) => ({
    email: e.email,
    rid:
      e.rid.type === 'issuerAndSerialNumber'
        ? { type: e.rid.type, issuer: compact(e.rid.issuer), serialNumber: compact(e.rid.serialNumber) }
        : { type: e.rid.type, subjectKeyIdentifier: compact(e.rid.subjectKeyIdentifier) },
  }));
}

/**
 * Worker threads for the software Konnektor's signing and encryption (`konnektor.workers`).
 * A real Konnektor is a box on the network and the client module only waits for it; the
 * software one would otherwise spend its RSA and AES time on the client module's event loop.
 * Workers start at first use and do not keep the process alive; a request goes to the worker
 * with the fewest outstanding ones. A worker that dies fails its outstanding requests
 * (KonnektorError `unavailable`) and is replaced by the next request.
 */
export class CryptoWorkerPool {
  private readonly slots: Array<Slot | null>;
  private readonly keyIds = new WeakMap<KeyObject, number>();
  private nextKeyId = 1;
  private nextId = 1;
  private closed = false;

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`CryptoWorkerPool: size ${size} is not a positive integer`);
    this.slots = Array.from({ length: size }, () => null);
  }

  /** `handOver`: the caller gives up `content` (its memory is transferred when it owns it whole). */
  sign(
    content: Uint8Array,
    key: { certDer: Uint8Array; privateKey: KeyObject },
    opts: { scheme: SignatureSchemeName; recipientEmails: readonly RecipientEmail[]; signingTime?: Date },
    handOver = false,
  ): Promise<Uint8Array> {
    let keyId = this.keyIds.get(key.privateKey);
    if (keyId === undefined) this.keyIds.set(key.privateKey, (keyId = this.nextKeyId++));
    const slot = this.pick();
    const known = slot.keys.has(keyId);
    slot.keys.add(keyId);
    return this.post(slot, {
      id: this.nextId++,
      op: 'sign',
      content,
      keyId,
      key: known ? undefined : { certDer: compact(key.certDer), privateKey: key.privateKey },
      scheme: opts.scheme,
      recipientEmails: compactEmails(opts.recipientEmails),
      signingTime: opts.signingTime,
    }, handOver);
  }

  encrypt(content: Uint8Array, recipients: readonly EnvelopeRecipient[], handOver = false): Promise<Uint8Array> {
    return this.post(this.pick(), { id: this.nextId++, op: 'encrypt', content, recipients: compactRecipients(recipients) }, handOver);
  }

  /** Stops the workers; outstanding requests fail. */
  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(
      this.slots.map(async (slot, i) => {
        if (!slot) return;
        this.slots[i] = null;
        this.failAll(slot, new KonnektorError('unavailable', 'the software Konnektor was shut down'));
        await slot.worker.terminate();
      }),
    );
  }

  private post(slot: Slot, req: WorkerRequest, handOver: boolean): Promise<Uint8Array> {
    return new Promise<Uint8Array>((resolve, reject) => {
      slot.pending.set(req.id, { resolve, reject });
      if (slot.pending.size === 1) slot.worker.ref(); // kept alive only while it has work
      // The content is transferred, not cloned (a clone serialises and deserialises: two copies).
      // Handed over and owning its whole ArrayBuffer, it goes as it is; otherwise a copy of it
      // goes and the caller's buffer stays the caller's. The whole-buffer test is what keeps
      // Buffer's shared pool slabs out: the pool takes only buffers below half a slab
      // (Buffer.poolSize: 8 KB on Node 20, 64 KB on Node 24, so a 10 KB Buffer.from() is a
      // pool view on 24), hence no Buffer ever spans a whole slab.
      const c = req.content;
      const owned = handOver && c.byteOffset === 0 && c.byteLength === c.buffer.byteLength && c.buffer instanceof ArrayBuffer;
      const content = owned ? new Uint8Array(c.buffer, 0, c.byteLength) : new Uint8Array(c);
      req.content = content;
      slot.worker.postMessage(req, [content.buffer as ArrayBuffer]);
    });
  }

  private pick(): Slot {
    if (this.closed) throw new KonnektorError('unavailable', 'the software Konnektor was shut down');
    let best = -1;
    for (let i = 0; i < this.slots.length; i++) {
      const s = this.slots[i];
      if (!s) {
        best = i;
        break;
      }
      if (best < 0 || s.pending.size < this.slots[best]!.pending.size) best = i;
    }
    return this.slots[best] ?? (this.slots[best] = this.spawn(best));
  }

  private spawn(index: number): Slot {
    const worker = new Worker(new URL('./crypto-worker.js', import.meta.url));
    worker.unref();
    const slot: Slot = { worker, pending: new Map(), keys: new Set() };
    worker.on('message', (reply: WorkerReply) => {
      const p = slot.pending.get(reply.id);
      if (!p) return;
      slot.pending.delete(reply.id);
      if (slot.pending.size === 0) worker.unref();
      if (reply.ok) p.resolve(reply.der);
      else p.reject(reply.error.cms ? new CmsError(reply.error.code as CmsErrorCode, reply.error.message) : new CmsError('internal', reply.error.message));
    });
    const gone = (err: Error): void => {
      if (this.slots[index] === slot) this.slots[index] = null;
      this.failAll(slot, new KonnektorError('unavailable', `a software Konnektor worker failed: ${err.message}`, { cause: err }));
    };
    worker.on('error', gone);
    worker.on('exit', (code) => gone(new Error(`exited with code ${code}`)));
    return slot;
  }

  private failAll(slot: Slot, err: Error): void {
    const pending = [...slot.pending.values()];
    slot.pending.clear();
    for (const p of pending) p.reject(err);
  }
}
