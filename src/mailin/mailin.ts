import { GroupCommit, type Store } from '../store/index.js';
import type { MailinConfig } from '../config/index.js';
import type { HostPort, Logger } from '../core/index.js';
import { MailinAdmin, type AddressBook } from './admin.js';
import { JobQueue } from './queue.js';
import { MailinRouter } from './router.js';
import { AgentRunner } from './runner.js';
import { MailinWorker } from './worker.js';
import type { MessageTrace } from '../service/trace.js';

export interface Mailin {
  /** The service's RecipientHandler for mail-in addresses. */
  router: MailinRouter;
  admin: MailinAdmin;
  worker: MailinWorker;
  queue: JobQueue;
  /** Stops the mail-in threads (after the worker and the SMTP listeners are closed). */
  close(): Promise<void>;
}

/**
 * The mail-in module's parts over one store; the worker is created but not started. `commits`
 * is the group commit the worker settles jobs through (the service shares its deliveries' one).
 * `ownListeners` is the live list of this process's listeners (the role adds them as they
 * start): webhooks and scripts' calls never reach them.
 */
export function createMailin(
  store: Store,
  addresses: AddressBook,
  config: MailinConfig,
  logger: Logger,
  commits = new GroupCommit(store.db),
  ownListeners: readonly HostPort[] = [],
  /** The message trace, when on: agent runs become events of their message's trace. */
  trace?: MessageTrace,
): Mailin {
  const runner = new AgentRunner(config, ownListeners, logger);
  const queue = new JobQueue(store.db, store.dialect, config.retry, config.worker.leaseMarginMs);
  const router = new MailinRouter(store.db, store.blobs, store.secrets, queue, runner, config, logger);
  const worker = new MailinWorker(store.db, store.blobs, store.secrets, queue, runner, config.worker, logger, commits);
  // Jobs of this node's deliveries are leased to its worker in the delivery's transaction;
  // a worker that is not started reserves no room, so they stay queued for other nodes.
  router.handOverTo(worker);
  router.trace = trace;
  worker.trace = trace;
  return { router, admin: new MailinAdmin(store.db, store.blobs, store.secrets, addresses, config, ownListeners), worker, queue, close: () => runner.close() };
}
