import { randomHex } from '../../core/index.js';
import { mkdir, open, unlink, stat, readdir } from 'node:fs/promises';
import { closeSync, createReadStream, openSync, readSync, readFile as readFileCb, open as fsOpen, read as fsRead, close as fsClose } from 'node:fs';
import { join } from 'node:path';
import type { Readable } from 'node:stream';
import { removeStaleTempFiles } from '../blob-gc.js';
import { checkHash, HASH_RE, type BlobStore, type BlobWriter } from './blob-store.js';
import { FileBlobWriter, type FileBlobTarget } from './file-writer.js';
import { BlobIoThreads } from './io-threads.js';

/**
 * Files under `root/ab/<hash>` (256 directories: few enough that they all exist after the first
 * few hundred messages, so a delivery rarely pays for creating one). A blob is written to
 * `root/tmp`, fdatasynced, renamed into place and its directory fsynced, so after commit() it
 * survives power loss; a crash before leaves only a temp file, never a half blob under its name
 * (file-writer.ts).
 *
 * A blob that fits in `memoryThreshold` (1 MiB: nearly all mail) is gathered in memory and
 * written whole by one of `ioThreads` blob threads (io-threads.ts): one hand-over instead of
 * a chain of libuv thread-pool round trips, each of which cost the event loop a cross-CPU wake-up.
 * Larger blobs, and every blob with `ioThreads: 0`, take that chain: the temp file is created in
 * the pool (creating a file waits for the file system's journal, which concurrent fsyncs keep
 * busy: done directly, that wait stalled the event loop), written with direct writev calls as the
 * body arrives (microseconds each, the same trade SQLite makes with its own writes), fdatasynced
 * and the directory fsynced in the pool, the rename and close done directly.
 */
export class FileBlobStore implements BlobStore {
  private readonly tmpDir: string;
  /** Directory descriptors kept open for fsync after rename (one per fan-out directory). */
  private readonly dirFds = new Map<string, number>();
  private readonly threads: BlobIoThreads | null;
  /** What every writer of this store shares. */
  private readonly target: FileBlobTarget;

  /**
   * `ioThreads`: blob threads for small blobs (0: everything through libuv's pool).
   * `syncReadMaxBytes`: blobs of known size up to this are read on the calling thread (see get()).
   */
  constructor(
    private readonly root: string,
    memoryThreshold = 1024 * 1024,
    ioThreads = 2,
    private readonly syncReadMaxBytes = 64 * 1024,
  ) {
    this.tmpDir = join(root, 'tmp');
    this.threads = ioThreads > 0 ? new BlobIoThreads(root, ioThreads) : null;
    this.target = { root, memoryThreshold, threads: this.threads, dirFd: (dir) => this.dirFd(dir) };
  }

  async init(): Promise<this> {
    // Private to the service user, like every folder of the data directory (store/data-dir.ts).
    await mkdir(this.tmpDir, { recursive: true, mode: 0o700 });
    return this;
  }

  pathOf(hash: string): string {
    checkHash(hash);
    return join(this.root, hash.slice(0, 2), hash);
  }

  async writer(): Promise<BlobWriter> {
    return new FileBlobWriter(join(this.tmpDir, `${Date.now()}-${randomHex(8)}`), this.target);
  }

  /** Opens (creating on first use) a fan-out directory and keeps the descriptor for fsync. */
  private async dirFd(dir: string): Promise<number> {
    let fd = this.dirFds.get(dir);
    if (fd === undefined) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
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
    // A small message is nearly always in the page cache, and reading it there takes a few
    // microseconds; open, read and close through the thread pool are three hand-overs, each a
    // cross-thread wake-up that cost the event loop more than the read (half a POP3 RETR's
    // time in the profile). Larger blobs, which may well come from the disk, use the pool.
    if (size <= this.syncReadMaxBytes) return readExactlySync(path, size);
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

/** readExactly() with direct system calls; rejects (does not throw) as readExactly does. */
function readExactlySync(path: string, size: number): Promise<Buffer> {
  try {
    const fd = openSync(path, 'r');
    let n: number;
    const buf = Buffer.allocUnsafe(size + 1);
    try {
      n = readSync(fd, buf, 0, size + 1, 0);
    } finally {
      closeSync(fd);
    }
    if (n !== size) throw new Error(`blob ${path} has ${n > size ? 'more' : n} bytes, expected ${size}`);
    return Promise.resolve(buf.subarray(0, size));
  } catch (err) {
    return Promise.reject(err);
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

async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
