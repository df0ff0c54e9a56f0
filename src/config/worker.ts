import { z } from 'zod';
import { duration } from './fields.js';

/**
 * What every background worker over a durable queue in the store has (the relay's outbound
 * queue, mail-in's after-delivery jobs): `worker` (whether this node runs it, how many items
 * at once, how often the queue is looked at) and `retry` (the waits between attempts). Each
 * area adds what is its own — how long a claim is held, when an item is given up — under
 * these two keys.
 */

export const workerFields = (defaults: { concurrency: number; pollIntervalMs: number }) => ({
  /** Whether this node runs the worker (several nodes on one PostgreSQL may all do). */
  enabled: z.boolean().default(true),
  /** Items in progress at once on this node. */
  concurrency: z.number().int().min(1).max(256).default(defaults.concurrency),
  /** How often the queue is looked at when nothing woke the worker (retries coming due, other nodes' items, expired leases). */
  pollIntervalMs: z.number().int().min(10).default(defaults.pollIntervalMs),
});

export const retryFields = (scheduleMs: number[]) => ({
  /** Waits after the 1st, 2nd, … failed attempt; the last one repeats. */
  scheduleMs: z.array(duration).min(1).max(100).default(scheduleMs),
});
