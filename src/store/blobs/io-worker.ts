import { createHash } from 'node:crypto';
import { parentPort, workerData } from 'node:worker_threads';
import { closeSync, fdatasyncSync, fsyncSync, mkdirSync, openSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { ThreadReply } from '../../core/index.js';
import type { BlobWrite } from './io-threads.js';

/**
 * The thread side of BlobIoThreads: writes whole small blobs with plain system calls. What
 * arrived while it was busy is done as one batch — every file written, then every file
 * fdatasynced (after the first, the journal has usually written the others' data already),
 * renamed into place, and each touched directory fsynced once — and only then answered.
 */
const root = (workerData as { root: string }).root;
const dirFds = new Map<string, number>();
let queue: BlobWrite[] = [];
let scheduled = false;

function dirFd(dir: string): number {
  let fd = dirFds.get(dir);
  if (fd === undefined) {
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    // The new directory's entry must be durable too, or a renamed file could vanish with it.
    const rootFd = openSync(root, 'r');
    try {
      fsyncSync(rootFd);
    } finally {
      closeSync(rootFd);
    }
    fd = openSync(dir, 'r');
    dirFds.set(dir, fd);
  }
  return fd;
}

function writeAll(fd: number, data: Uint8Array): void {
  for (let off = 0; off < data.length; ) off += writeSync(fd, data, off, data.length - off);
}

function runBatch(): void {
  scheduled = false;
  const batch = queue;
  queue = [];
  const open: Array<{ w: BlobWrite; fd: number | null; hash: string; error?: string }> = batch.map((w) => ({ w, fd: null, hash: '' }));
  const fail = (o: (typeof open)[number], err: unknown): void => {
    o.error = err instanceof Error ? err.message : String(err);
    if (o.fd !== null) {
      try {
        closeSync(o.fd);
      } catch {
        /* being discarded */
      }
    }
    o.fd = null;
    try {
      unlinkSync(o.w.tmp);
    } catch {
      /* not created, or already gone */
    }
  };
  for (const o of open) {
    try {
      const data = new Uint8Array(o.w.data);
      o.hash = createHash('sha256').update(data).digest('hex');
      o.fd = openSync(o.w.tmp, 'wx', 0o600);
      writeAll(o.fd, data);
    } catch (err) {
      fail(o, err);
    }
  }
  for (const o of open) {
    if (o.fd === null) continue;
    try {
      fdatasyncSync(o.fd);
    } catch (err) {
      fail(o, err);
    }
  }
  const touched = new Set<number>();
  for (const o of open) {
    if (o.fd === null) continue;
    try {
      const dir = join(root, o.hash.slice(0, 2));
      const d = dirFd(dir);
      renameSync(o.w.tmp, join(dir, o.hash));
      closeSync(o.fd);
      o.fd = null;
      touched.add(d);
    } catch (err) {
      fail(o, err);
    }
  }
  let dirError: string | undefined;
  for (const d of touched) {
    try {
      fsyncSync(d);
    } catch (err) {
      dirError = err instanceof Error ? err.message : String(err);
    }
  }
  for (const o of open) {
    const error = o.error ?? dirError;
    parentPort!.postMessage((error ? { id: o.w.id, ok: false, error } : { id: o.w.id, ok: true, value: o.hash }) satisfies ThreadReply);
  }
}

parentPort!.on('message', (w: BlobWrite) => {
  queue.push(w);
  // Let the messages already waiting join this batch.
  if (!scheduled) {
    scheduled = true;
    setImmediate(runBatch);
  }
});
