import { createHash, type Hash } from 'node:crypto';
import { unlink } from 'node:fs/promises';
import { closeSync, fdatasync, fsync, open as fsOpen, renameSync, unlinkSync, writevSync } from 'node:fs';
import { join } from 'node:path';
import type { BlobWriter } from './blob-store.js';
import type { BlobIoThreads } from './io-threads.js';

/** What a file blob writer needs of its store (one object per store, shared by its writers). */
export interface FileBlobTarget {
  root: string;
  /** Largest blob gathered in memory and written whole by a blob thread. */
  memoryThreshold: number;
  /** The blob threads; null: every blob is streamed through libuv's pool. */
  threads: BlobIoThreads | null;
  /** The descriptor of a fan-out directory (created and made durable on first use), for fsync after rename. */
  dirFd(dir: string): Promise<number>;
}

/**
 * One blob on its way into a FileBlobStore, under the temp path `tmp`. A blob that stays below
 * memoryThreshold is written whole by a blob thread at commit (io-threads.ts). Without threads,
 * or once it grows beyond, the temp file is opened in libuv's pool while the body is still
 * arriving (creating a file needs the file system's journal, which a running fsync can hold for
 * milliseconds — not a wait for the event loop), the chunks are written with direct writev
 * calls, and commit fdatasyncs it, renames it to its hash and fsyncs the directory.
 * Every writer is committed or aborted (both close the file); it lives as long as one DATA
 * transaction, far below the temp-file sweep's grace (blobGcGraceMs).
 */
export class FileBlobWriter implements BlobWriter {
  /** Only a streamed blob is hashed here; a blob thread hashes the blobs it writes. */
  private hasher: Hash | null = null;
  /** Chunks not written yet (all of them while the blob is gathered in memory). */
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private size = 0;
  /** The open temp file. */
  private fd: number | null = null;
  /** Committed or aborted: no more writes, and a temp file that opens only now goes at once. */
  private finished = false;
  /** The temp file being created in libuv's pool; null until it is asked for. */
  private opening: Promise<number> | null = null;

  constructor(
    private readonly tmp: string,
    private readonly target: FileBlobTarget,
  ) {
    if (!target.threads) void this.startOpening();
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.finished) throw new Error('blob writer already finished');
    this.size += chunk.length;
    this.pending.push(chunk);
    this.pendingBytes += chunk.length;
    if (this.pendingBytes >= this.target.memoryThreshold) {
      try {
        await this.opened();
        this.flush();
      } catch (err) {
        this.discard();
        throw err;
      }
    }
  }

  async commit(): Promise<{ hash: string; size: number }> {
    try {
      if (this.finished) throw new Error('blob writer already finished');
      const threads = this.target.threads;
      // Gathered whole in memory: a blob thread hashes, writes, syncs and names it.
      if (threads && !this.opening) return { hash: await threads.write(this.tmp, this.takeWhole()), size: this.size };
      await this.opened();
      this.flush();
      await syncFd(this.fd!, fdatasync);
      const hash = (this.hasher ?? createHash('sha256')).digest('hex');
      const dir = join(this.target.root, hash.slice(0, 2));
      const dirFd = await this.target.dirFd(dir);
      renameSync(this.tmp, join(dir, hash));
      this.closeFile();
      await syncFd(dirFd, fsync);
      return { hash, size: this.size };
    } catch (err) {
      this.discard();
      throw err;
    }
  }

  async abort(): Promise<void> {
    this.discard();
  }

  /** The gathered chunks as one buffer of its own memory (not a slice of Node's pool), so it can be handed to a thread. */
  private takeWhole(): ArrayBuffer {
    const data = Buffer.allocUnsafeSlow(this.size);
    let at = 0;
    for (const c of this.pending) at += c.copy(data, at);
    this.pending = [];
    this.finished = true;
    return data.buffer as ArrayBuffer;
  }

  private startOpening(): Promise<number> {
    if (this.opening) return this.opening;
    const tmp = this.tmp;
    const opening = new Promise<number>((resolve, reject) => fsOpen(tmp, 'wx', 0o600, (err, f) => (err ? reject(err) : resolve(f))));
    this.opening = opening;
    opening.then(
      (f) => {
        if (!this.finished) return void (this.fd = f);
        // Aborted before the file existed: it goes now.
        closeQuietly(f);
        unlink(tmp).catch(() => undefined);
      },
      () => undefined, // reported by whoever awaits it
    );
    return opening;
  }

  private async opened(): Promise<number> {
    return this.fd ?? (await this.startOpening());
  }

  private flush(): void {
    if (this.pendingBytes === 0) return;
    // The chunks as they came (one writev), not joined first: no copy of the whole message.
    const data = this.pending;
    this.pending = [];
    this.pendingBytes = 0;
    const hasher = (this.hasher ??= createHash('sha256'));
    for (const c of data) hasher.update(c);
    writeAllv(this.fd!, data);
  }

  private closeFile(): void {
    this.finished = true;
    if (this.fd === null) return;
    const f = this.fd;
    this.fd = null;
    closeQuietly(f);
  }

  private discard(): void {
    this.pending = [];
    this.closeFile();
    try {
      unlinkSync(this.tmp);
    } catch {
      /* already gone */
    }
  }
}

/** Vectors per writev call, well below IOV_MAX (1024 on Linux). */
const MAX_IOV = 256;

/** Writes every buffer in order with writev, resuming after short writes. */
function writeAllv(fd: number, buffers: Buffer[]): void {
  let list = buffers.filter((b) => b.length > 0);
  while (list.length > 0) {
    const batch = list.length > MAX_IOV ? list.slice(0, MAX_IOV) : list;
    let bytesWritten = writevSync(fd, batch);
    let i = 0;
    while (i < batch.length && bytesWritten >= batch[i]!.length) bytesWritten -= batch[i++]!.length;
    // A short write leaves part of batch[i]: the rest of it goes first next time.
    const rest = i < batch.length ? [batch[i]!.subarray(bytesWritten), ...batch.slice(i + 1)] : [];
    list = [...rest, ...list.slice(batch.length)];
  }
}

function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {
    /* nothing to do about a failing close of a file being discarded or already synced */
  }
}

/** fsync or fdatasync in the thread pool (the one wait that can take milliseconds). */
function syncFd(fd: number, how: typeof fsync | typeof fdatasync): Promise<void> {
  return new Promise((resolve, reject) => how(fd, (err) => (err ? reject(err) : resolve())));
}
