import type { Store } from '../store/index.js';
import { collectGarbageBlobs } from '../store/index.js';
import type { Logger } from '../core/index.js';
import { errorMessage } from '../core/index.js';
import type { MessageTrace } from './trace.js';

export interface MaintenanceOptions {
  /** How old an unreferenced blob or temp file must be before it is removed. */
  graceMs: number;
  /** How often the sweep runs; the first run is right after start. */
  intervalMs: number;
  /** The message trace, when on: traces older than its retention are removed (and counted) on each run. */
  trace?: MessageTrace | undefined;
}

/**
 * Periodic housekeeping: removes blobs and temp files that a crash left without a mailbox row,
 * and message traces past service.trace.retentionDays.
 * Returns a stop function. Runs are never concurrent.
 */
export function startMaintenance(store: Store, logger: Logger, opts: MaintenanceOptions): () => Promise<void> {
  let running: Promise<void> | null = null;
  const run = () => {
    running ??= (async () => {
      try {
        const temp = (await store.blobs.sweepTemp?.(opts.graceMs)) ?? 0;
        const gc = await collectGarbageBlobs(store.db, store.blobs, opts.graceMs);
        if (temp || gc.deleted) logger.info({ tempFiles: temp, blobsDeleted: gc.deleted, blobsExamined: gc.examined }, 'removed leftovers of interrupted deliveries');
      } catch (err) {
        logger.warn({ err: errorMessage(err) }, 'blob garbage collection failed');
      }
      try {
        const traces = (await opts.trace?.purge()) ?? 0;
        if (traces) logger.info({ tracesRemoved: traces, retentionDays: opts.trace!.retentionMs / 86_400_000 }, 'removed message traces past their retention');
      } catch (err) {
        logger.warn({ err: errorMessage(err) }, 'removing old message traces failed');
      } finally {
        running = null;
      }
    })();
  };
  const first = setTimeout(run, 1000);
  const timer = setInterval(run, opts.intervalMs);
  first.unref();
  timer.unref();
  return async () => {
    clearTimeout(first);
    clearInterval(timer);
    await running;
  };
}
