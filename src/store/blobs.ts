import { createHash, type Hash } from 'node:crypto';
import { randomHex } from '../core/index.js';
import { mkdir, open, unlink, stat, readdir } from 'node:fs/promises';
import {
  closeSync,
  createReadStream,
  fdatasync,
  fsync,
  openSync,
  readFile as readFileCb,
  open as fsOpen,
  read as fsRead,
  close as fsClose,
  renameSync,
  unlinkSync,
  writevSync,
} from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import type { Kysely } from 'kysely';
import type { Database } from './schema.js';
import { removeStaleTempFiles } from './blob-gc.js';
import { BlobIoThreads } from './blob-io-threads.js';

/** A blob being written: feed it chunks, then `commit` makes it durable and names it. */
export interface BlobWriter {
  write(chunk: Buffer): Promise<void>;
  /** Flushes and fsyncs; resolves to the content address once the blob survives a crash. */
  commit(): Promise<{ hash: string; size: number }>;
  abort(): Promise<void>;
}

/** Content-addressed storage for raw messages: the address is the SHA-256 of the bytes. */
export interface BlobStore {
  writer(): Promise<BlobWriter>;
  /** The whole blob; `size`, when the caller knows it, saves a stat. */
  get(hash: string, size?: number): Promise<Buffer>;
  stream(hash: string): Promise<Readable>;
  delete(hash: string): Promise<void>;
  /** Every stored hash (for garbage collection of blobs no row refers to). */
  list(): AsyncIterable<{ hash: string; createdAt: number }>;
  /** Releases handles the store keeps open. */
  close?(): Promise<void>;
  /** Removes temp files older than graceMs that a crash left behind; returns how many. */
  sweepTemp?(graceMs: number): Promise<number>;
}

/** Stores bytes already in memory as one durable blob (an edited mail-in copy, a DSN). */
export async function writeBlob(blobs: BlobStore, data: Buffer): Promise<{ hash: string; size: number }> {
  const w = await blobs.writer();
  try {
    await w.write(data);
    return await w.commit();
  } catch (err) {
    await w.abort();
    throw err;
  }
}

const HASH_RE = /^[0-9a-f]{64}$/;

function checkHash(hash: string): void {
  if (!HASH_RE.test(hash)) throw new Error(`not a blob address: ${hash.slice(0, 80)}`);
}

/**
 * Files under `root/ab/<hash>` (256 directories: few enough that they all exist after the first
 * few hundred messages, so a delivery rarely pays for creating one). A blob is written to
 * `root/tmp`, fdatasynced, renamed into place and its directory fsynced, so after commit() it
 * survives power loss; a crash before leaves only a temp file, never a half blob under its name.
 *
 * A blob that fits in `memoryThreshold` (1 MiB: nearly all mail) is gathered in memory and
 * written whole by one of `ioThreads` blob threads (blob-io-threads.ts): one hand-over instead of
 * a chain of libuv thread-pool round trips, each of which cost the event loop a cross-CPU wake-up.
 * Larger blobs, and every blob with `ioThreads: 0`, take that chain: the temp file is created in
 * the pool (creating a file waits for the file system's journal, which concurrent fsyncs keep
 * busy: done directly it took 29% of the event loop), written with direct writev calls as the
 * body arrives (microseconds each, the same trade SQLite makes with its own writes), fdatasynced
 * and the directory fsynced in the pool, the rename and close done directly.
 */
export class FileBlobStore implements BlobStore {
  private readonly tmpDir: string;
  /** Directory descriptors kept open for fsync after rename (one per fan-out directory). */
  private readonly dirFds = new Map<string, number>();

  private readonly threads: BlobIoThreads | null;

  /** `ioThreads`: blob threads for small blobs (0: everything through libuv's pool). */
  constructor(
    private readonly root: string,
    private readonly memoryThreshold = 1024 * 1024,
    ioThreads = 2,
  ) {
    this.tmpDir = join(root, 'tmp');
    this.threads = ioThreads > 0 ? new BlobIoThreads(root, ioThreads) : null;
  }

  async init(): Promise<this> {
    await mkdir(this.tmpDir, { recursive: true });
    return this;
  }

  pathOf(hash: string): string {
    checkHash(hash);
    return join(this.root, hash.slice(0, 2), hash);
  }

  async writer(): Promise<BlobWriter> {
    const tmp = join(this.tmpDir, `${Date.now()}-${randomHex(8)}`);
    // Only a streamed blob is hashed here; a blob thread hashes the blobs it writes.
    let hasher: Hash | null = null;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    let size = 0;
    // A blob that stays below memoryThreshold is written whole by a blob thread at commit
    // (blob-io-threads.ts). Without threads, or once it grows beyond, the temp file is opened in
    // libuv's pool, while the body is still arriving: creating a file needs the file system's
    // journal, which a running fsync can hold for milliseconds — not a wait for the event loop.
    // Every writer is committed or aborted (both close the file); it lives as long as one DATA
    // transaction, far below the temp-file sweep's grace (blobGcGraceMs).
    let fd: number | null = null;
    let finished = false;
    let opening: Promise<number> | null = null;
    const startOpening = (): Promise<number> => {
      if (opening) return opening;
      opening = new Promise<number>((resolve, reject) => fsOpen(tmp, 'wx', (err, f) => (err ? reject(err) : resolve(f))));
      opening.then(
        (f) => {
          if (!finished) return void (fd = f);
          // Aborted before the file existed: it goes now.
          closeQuietly(f);
          unlink(tmp).catch(() => undefined);
        },
        () => undefined, // reported by whoever awaits it
      );
      return opening;
    };
    if (!this.threads) void startOpening();
    const opened = async (): Promise<number> => fd ?? (await startOpening());
    const flush = (): void => {
      if (pendingBytes === 0) return;
      // The chunks as they came (one writev), not joined first: no copy of the whole message.
      const data = pending;
      pending = [];
      pendingBytes = 0;
      hasher ??= createHash('sha256');
      for (const c of data) hasher.update(c);
      writeAllv(fd!, data);
    };
    const closeFile = (): void => {
      finished = true;
      if (fd === null) return;
      const f = fd;
      fd = null;
      closeQuietly(f);
    };
    const discard = (): void => {
      pending = [];
      closeFile();
      try {
        unlinkSync(tmp);
      } catch {
        /* already gone */
      }
    };
    return {
      write: async (chunk) => {
        if (finished) throw new Error('blob writer already finished');
        size += chunk.length;
        pending.push(chunk);
        pendingBytes += chunk.length;
        if (pendingBytes >= this.memoryThreshold) {
          try {
            await opened();
            flush();
          } catch (err) {
            discard();
            throw err;
          }
        }
      },
      commit: async () => {
        try {
          if (finished) throw new Error('blob writer already finished');
          if (this.threads && !opening) {
            // Its own memory (not a slice of Node's pool), so it can be handed to the thread.
            const data = Buffer.allocUnsafeSlow(size);
            let at = 0;
            for (const c of pending) at += c.copy(data, at);
            pending = [];
            finished = true;
            return { hash: await this.threads.write(tmp, data.buffer as ArrayBuffer), size };
          }
          await opened();
          flush();
          await syncFd(fd!, fdatasync);
          const hash = (hasher ?? createHash('sha256')).digest('hex');
          const dir = join(this.root, hash.slice(0, 2));
          const dirFd = await this.dirFd(dir);
          renameSync(tmp, join(dir, hash));
          closeFile();
          await syncFd(dirFd, fsync);
          return { hash, size };
        } catch (err) {
          discard();
          throw err;
        }
      },
      abort: async () => {
        discard();
      },
    };
  }

  /** Opens (creating on first use) a fan-out directory and keeps the descriptor for fsync. */
  private async dirFd(dir: string): Promise<number> {
    let fd = this.dirFds.get(dir);
    if (fd === undefined) {
      await mkdir(dir, { recursive: true });
      // The new directory entry must be durable too, or a renamed file could vanish with it.
      await fsyncDir(this.root);
      fd = this.dirFds.get(dir) ?? openSync(dir, 'r');
      this.dirFds.set(dir, fd);
    }
    return fd;
  }

  sweepTemp(graceMs: number): Promise<number> {
    return removeStaleTempFiles(this.tmpDir, graceMs);
  }

  /** Stops the blob threads and closes the cached directory descriptors. */
  async close(): Promise<void> {
    await this.threads?.close();
    const fds = [...this.dirFds.values()];
    this.dirFds.clear();
    for (const fd of fds) closeSync(fd);
  }

  async get(hash: string, size?: number): Promise<Buffer> {
    const path = this.pathOf(hash);
    // fs.promises.readFile costs several thread-pool round trips more than open+read+close with
    // callbacks; reading was a third of the POP3 server's time in the RETR profile.
    if (size === undefined) return new Promise((resolve, reject) => readFileCb(path, (err, data) => (err ? reject(err) : resolve(data))));
    return readExactly(path, size);
  }

  async stream(hash: string): Promise<Readable> {
    const path = this.pathOf(hash);
    await stat(path);
    return createReadStream(path);
  }

  async delete(hash: string): Promise<void> {
    await unlink(this.pathOf(hash)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') throw err;
    });
  }

  async *list(): AsyncIterable<{ hash: string; createdAt: number }> {
    for (const a of await readdir(this.root)) {
      if (!/^[0-9a-f]{2}$/.test(a)) continue;
      for (const name of await readdir(join(this.root, a))) {
        if (!HASH_RE.test(name)) continue;
        const st = await stat(join(this.root, a, name)).catch(() => null);
        if (st) yield { hash: name, createdAt: st.mtimeMs };
      }
    }
  }
}

/** Reads a file whose size is known: open, one read, close — no stat. */
function readExactly(path: string, size: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    fsOpen(path, 'r', (err, fd) => {
      if (err) return reject(err);
      // One byte more than expected tells a longer file from an exact one.
      const buf = Buffer.allocUnsafe(size + 1);
      fsRead(fd, buf, 0, size + 1, 0, (rerr, n) => {
        fsClose(fd, () => {
          if (rerr) return reject(rerr);
          if (n !== size) return reject(new Error(`blob ${path} has ${n > size ? 'more' : n} bytes, expected ${size}`));
          resolve(buf.subarray(0, size));
        });
      });
    });
  });
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

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/**
 * Blobs as rows of the `blobs` table: for several nodes sharing one PostgreSQL, where no
 * node's disk is visible to the others. The database's own commit makes them durable.
 */
export class DatabaseBlobStore implements BlobStore {
  constructor(
    private readonly db: Kysely<Database>,
    private readonly maxSize = 64 * 1024 * 1024,
  ) {}

  async writer(): Promise<BlobWriter> {
    const chunks: Buffer[] = [];
    let size = 0;
    return {
      write: async (chunk) => {
        size += chunk.length;
        if (size > this.maxSize) throw new Error(`blob larger than ${this.maxSize} bytes`);
        chunks.push(chunk);
      },
      commit: async () => {
        const data = Buffer.concat(chunks, size);
        const hash = createHash('sha256').update(data).digest('hex');
        await this.db
          .insertInto('blobs')
          .values({ hash, size, data, created_at: Date.now() })
          .onConflict((oc) => oc.column('hash').doNothing())
          .execute();
        return { hash, size };
      },
      abort: async () => {
        chunks.length = 0;
      },
    };
  }

  async get(hash: string, _size?: number): Promise<Buffer> {
    checkHash(hash);
    const row = await this.db.selectFrom('blobs').select('data').where('hash', '=', hash).executeTakeFirst();
    if (!row) throw Object.assign(new Error(`blob ${hash} not found`), { code: 'ENOENT' });
    return Buffer.from(row.data);
  }

  async stream(hash: string): Promise<Readable> {
    const { Readable } = await import('node:stream');
    return Readable.from([await this.get(hash)]);
  }

  async delete(hash: string): Promise<void> {
    checkHash(hash);
    await this.db.deleteFrom('blobs').where('hash', '=', hash).execute();
  }

  async *list(): AsyncIterable<{ hash: string; createdAt: number }> {
    let after = '';
    for (;;) {
      const rows = await this.db.selectFrom('blobs').select(['hash', 'created_at']).where('hash', '>', after).orderBy('hash').limit(1000).execute();
      for (const r of rows) yield { hash: r.hash, createdAt: r.created_at };
      if (rows.length < 1000) return;
      after = rows[rows.length - 1]!.hash;
    }
  }
}
