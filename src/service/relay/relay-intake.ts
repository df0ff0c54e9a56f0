import type { FilingHandler, FilingPlan, HandledMessage } from '../recipient-handler.js';
import type { RelayQueue } from './outbound-queue.js';

/**
 * The relay's part of a delivery: the recipients in other domains become queue rows in the
 * delivery's own transaction (so the 250 means they are queued), referring to the message's
 * blob. After the COMMIT this node's worker is woken; its poll is the fallback.
 */
export class RelayIntake implements FilingHandler {
  /** The worker reads the message when it sends it, not now. */
  readonly wantsRaw = false;
  private wake: (() => void) | null = null;

  constructor(private readonly queue: RelayQueue) {}

  /** Who is woken after a COMMIT that queued rows (this node's worker, when it runs). */
  wakeOnEnqueue(wake: () => void): void {
    this.wake = wake;
  }

  async prepare(msg: HandledMessage): Promise<FilingPlan> {
    return {
      file: (trx) => this.queue.enqueue(trx, { queueId: msg.queueId, blob: msg.blob, mailFrom: msg.mailFrom, recipients: msg.recipients, now: msg.receivedAt, notify: msg.notify }),
      committed: () => this.wake?.(),
      usesBlob: true,
      abandoned: async () => undefined,
    };
  }
}
