export { createRelay, type Relay, type RelaySetup } from './relay.js';
export { RelayQueue, RelayLeaseLost, type RelayBatch, type RelayRow, type RelaySettlement } from './outbound-queue.js';
export { RelayWorker, type RelayWorkerOptions, type SettledBatch } from './relay-worker.js';
export { RelayRoutes, orderMx, type MxResolver, type MxRecord, type RelayTarget, type RouteAnswer } from './routes.js';
export { RelayIntake } from './relay-intake.js';
export { RelayQueueAdmin, type QueueEntry } from './queue-admin.js';
export { attemptDelivery, type RecipientResult } from './attempt.js';
export { buildRelayBounce } from './bounce.js';
