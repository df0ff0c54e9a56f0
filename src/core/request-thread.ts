import { parentPort, Worker, type Transferable, type WorkerOptions } from 'node:worker_threads';

/** What a request thread answers: the request's id and its result or its error's message. */
export type ThreadReply = { id: number; ok: true; value: unknown } | { id: number; ok: false; error: string };

/**
 * A worker thread that answers requests by id. Only calls in progress keep the process alive.
 * If the thread dies, every call it held fails with `what` in the message, and `dead` is set so
 * the owner can replace it (ThreadSet does).
 */
export class RequestThread {
  private readonly worker: Worker;
  private readonly pending = new Map<number, { resolve(v: unknown): void; reject(e: Error): void }>();
  private nextId = 0;
  dead = false;

  constructor(url: URL, options: WorkerOptions, what: string) {
    this.worker = new Worker(url, options);
    this.worker.unref();
    this.worker.on('message', (m: ThreadReply) => {
      const p = this.pending.get(m.id);
      if (!p) return;
      this.pending.delete(m.id);
      if (this.pending.size === 0) this.worker.unref();
      if (m.ok) p.resolve(m.value);
      else p.reject(new Error(m.error));
    });
    const fail = (why: string) => {
      this.dead = true;
      for (const p of this.pending.values()) p.reject(new Error(why));
      this.pending.clear();
    };
    this.worker.on('error', (err) => fail(`the ${what} failed: ${err.message}`));
    this.worker.on('exit', (code) => fail(`the ${what} stopped (exit code ${code})`));
  }

  /** Calls in progress. */
  get load(): number {
    return this.pending.size;
  }

  call<T>(request: object, transfer: Transferable[] = []): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const id = this.nextId++;
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject });
      if (this.pending.size === 1) this.worker.ref();
      try {
        this.worker.postMessage({ ...request, id }, transfer);
      } catch (err) {
        // Not sendable (a value that cannot be cloned, a buffer already transferred): it was
        // never in progress, so it must not keep the thread referenced or count as load.
        this.pending.delete(id);
        if (this.pending.size === 0) this.worker.unref();
        reject(err as Error);
      }
    });
  }

  terminate(): Promise<number> {
    this.dead = true;
    return this.worker.terminate();
  }
}

/** `size` request threads, each made on first use; the least busy takes the next call, a dead one is replaced. */
export class ThreadSet {
  private readonly threads: Array<RequestThread | null>;
  private closed = false;

  constructor(
    size: number,
    private readonly make: () => RequestThread,
  ) {
    this.threads = Array.from({ length: size }, () => null);
  }

  pick(): RequestThread {
    if (this.closed) throw new Error('the threads are closed');
    let best = -1;
    for (let i = 0; i < this.threads.length; i++) {
      const t = this.threads[i];
      if (!t || t.dead) return (this.threads[i] = this.make());
      if (best < 0 || t.load < this.threads[best]!.load) best = i;
    }
    return this.threads[best]!;
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.threads.map((t) => t?.terminate()));
  }
}

/** The thread side: every request is answered with what `handle` returns or the message it throws. */
export function answerRequests<R extends { id: number }>(handle: (request: R) => unknown): void {
  parentPort!.on('message', (request: R) => {
    Promise.resolve()
      .then(() => handle(request))
      .then(
        (value) => parentPort!.postMessage({ id: request.id, ok: true, value } satisfies ThreadReply),
        (err: unknown) => parentPort!.postMessage({ id: request.id, ok: false, error: err instanceof Error ? err.message : String(err) } satisfies ThreadReply),
      );
  });
}
