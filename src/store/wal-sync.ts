import { closeSync, fdatasync, openSync } from 'node:fs';

/**
 * Makes SQLite's write-ahead log durable from the thread pool instead of inside COMMIT.
 *
 * With `synchronous = FULL` every COMMIT fsyncs the WAL on the calling thread, and better-sqlite3
 * calls on the event loop: each fsync stalled every connection the process serves (a fifth of
 * the service's main thread under load). At `synchronous = NORMAL` COMMIT only writes the WAL
 * (SQLite still syncs around checkpoints, so the file stays consistent) and this class supplies
 * the durability: `sync()` resolves once an fdatasync of the WAL that started after the call
 * has finished. Callers that acknowledge a write (a 250, a +OK) wait for it first, so what was
 * acknowledged is on disk exactly as under FULL.
 *
 * Calls made while one fdatasync is running share the next one: at most one runs and one waits,
 * however many commits come in.
 */
export class WalSync {
  private fd: number | null = null;
  private current: Promise<void> | null = null;
  private next: Promise<void> | null = null;

  constructor(private readonly walPath: string) {}

  sync(): Promise<void> {
    if (this.next) return this.next;
    if (!this.current) return (this.current = this.start());
    return (this.next = this.current
      .catch(() => undefined)
      .then(() => {
        this.next = null;
        return (this.current = this.start());
      }));
  }

  /** Resolves when no fdatasync is running or waiting. */
  async idle(): Promise<void> {
    while (this.next || this.current) await (this.next ?? this.current)!.catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.idle();
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private start(): Promise<void> {
    const run = new Promise<void>((resolve, reject) => {
      // The WAL exists from the first write on and stays while the database is open here;
      // opened late so that a database nobody writes to needs no file descriptor.
      try {
        this.fd ??= openSync(this.walPath, 'r');
      } catch (err) {
        reject(err as Error);
        return;
      }
      fdatasync(this.fd, (err) => (err ? reject(err) : resolve()));
    });
    const settled = run.finally(() => {
      if (this.current === settled) this.current = null;
    });
    return settled;
  }
}
