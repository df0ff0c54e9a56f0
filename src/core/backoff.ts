/**
 * The wait after the n-th failed attempt (n from 1) of a retried piece of work: the schedule's
 * steps in turn, the last one repeating. Shared by the durable queues (mail-in jobs, relay).
 */
export function backoffStepMs(scheduleMs: readonly number[], failedAttempts: number): number {
  return scheduleMs[Math.min(Math.max(failedAttempts, 1), scheduleMs.length) - 1]!;
}
