import { RequestThread, ThreadSet } from '../../core/index.js';

const WORKER_URL = new URL('./io-worker.js', import.meta.url);

/** One small blob for a thread: its bytes (transferred, not copied) and its temp path; the thread names it by its hash. */
export interface BlobWrite {
  id: number;
  tmp: string;
  data: ArrayBuffer;
}

/**
 * Threads that write small blobs whole: create, write, fdatasync, rename, fsync the directory,
 * with plain system calls, answering once per blob; the thread also computes the SHA-256 that names it. Through libuv's pool the same blob took five
 * round trips (create, the two syncs, their completions), each waking a sleeping thread — in a VM
 * an expensive cross-CPU wake-up — and the event loop paid most of it, several times what one
 * hand-over to a blob thread costs it (docs/benchmarks.md, bench:clientmodule). Two
 * threads keep fsyncs of different blobs overlapping, as the pool did.
 */
export class BlobIoThreads {
  private readonly threads: ThreadSet;

  constructor(root: string, size: number) {
    this.threads = new ThreadSet(size, () => new RequestThread(WORKER_URL, { workerData: { root } }, 'blob thread'));
  }

  /** Resolves to the blob's SHA-256 (hex) once it is durable under that name. */
  async write(tmp: string, data: ArrayBuffer): Promise<string> {
    try {
      return await this.threads.pick().call<string>({ tmp, data }, [data]);
    } catch (err) {
      throw new Error(`blob write failed: ${(err as Error).message}`);
    }
  }

  close(): Promise<void> {
    return this.threads.close();
  }
}
