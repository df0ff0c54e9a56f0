export interface WorkLoopOptions {
  /** Items run at once. */
  concurrency: number;
  /** How often the source is asked when nothing woke the loop (other nodes' work, retries, expired leases). */
  pollIntervalMs: number;
}

/** Where a WorkLoop gets its items and what it does with them. */
export interface WorkSource<T> {
  /** Leases up to `max` due items. */
  claim(max: number): Promise<T[]>;
  /** Runs one item to its end (settling it is the item's business). */
  run(item: T): Promise<void>;
  /** Claiming failed (`item` undefined) or a run threw: logged by the owner, the loop goes on. */
  failed(err: unknown, item?: T): void;
}

/**
 * The loop behind a durable queue's worker (the mail-in jobs, the relay queue): runs up to
 * `concurrency` items at once, claiming more when woken (something was enqueued, a full claim
 * may have left more) and otherwise every `pollIntervalMs`. Room can also be reserved for items
 * leased elsewhere (in a delivery's transaction) and handed over after their COMMIT (`adopt`).
 */
export class WorkLoop<T> {
  private active = 0;
  /** Room promised to items whose transaction has not committed yet. */
  private reserved = 0;
  /** The last claim filled all the room: more may wait, so a finishing item looks again. */
  private backlog = true;
  private stopped = false;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private loopDone: Promise<void> | null = null;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly opts: WorkLoopOptions,
    private readonly source: WorkSource<T>,
  ) {}

  start(): void {
    this.loopDone ??= this.loop();
  }

  get running(): boolean {
    return this.loopDone !== null && !this.stopped;
  }

  /** Room for `n` items leased elsewhere; 0 when stopped, not started or full. */
  reserve(n: number): number {
    if (!this.running) return 0;
    const take = Math.max(0, Math.min(n, this.opts.concurrency - this.active - this.reserved));
    this.reserved += take;
    return take;
  }

  release(n: number): void {
    this.reserved -= n;
  }

  /** Runs items reserved for and leased to this loop. Stopped meanwhile: left to their lease's expiry. */
  adopt(items: T[]): void {
    this.reserved -= items.length;
    if (this.stopped) return;
    for (const item of items) this.launch(item);
  }

  wake(): void {
    this.backlog = true;
    this.woken = true;
    this.wakeUp?.();
  }

  /**
   * Stops claiming and waits up to `graceMs` for the runs in progress. A run still going after
   * that is abandoned: its lease expires and the item runs again (at least once, never lost).
   */
  async close(graceMs = 10_000): Promise<void> {
    this.stopped = true;
    this.wake();
    await this.loopDone;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([Promise.all([...this.inFlight]), new Promise<void>((r) => (timer = setTimeout(r, graceMs)))]);
    clearTimeout(timer);
  }

  private async loop(): Promise<void> {
    while (!this.stopped) {
      this.woken = false;
      let claimed = 0;
      const free = this.opts.concurrency - this.active - this.reserved;
      if (free > 0) {
        try {
          const items = await this.source.claim(free);
          claimed = items.length;
          this.backlog = claimed === free;
          for (const item of items) this.launch(item);
        } catch (err) {
          this.source.failed(err);
        }
      }
      // A full batch means more may be due: look again at once if there is room.
      if (this.stopped || (claimed > 0 && claimed === free && this.active + this.reserved < this.opts.concurrency)) continue;
      if (this.woken) continue;
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.opts.pollIntervalMs);
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.wakeUp = null;
    }
  }

  private launch(item: T): void {
    this.active++;
    const p = this.source
      .run(item)
      .catch((err: unknown) => this.source.failed(err, item))
      .finally(() => {
        this.active--;
        this.inFlight.delete(p);
        // Room again: look at the source only if something may be waiting there (a queued item, a
        // full claim); items handed over need no look, the poll finds the rest.
        if (this.backlog) this.wake();
      });
    this.inFlight.add(p);
  }
}
