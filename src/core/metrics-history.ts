import type { Metrics } from './metrics.js';

/** The SMTP DATA-to-answer histogram the overview's latency percentiles come from. */
export const SMTP_MESSAGE_SECONDS = 'postamt_smtp_message_duration_seconds';
export const SMTP_MESSAGE_BUCKETS: readonly number[] = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
export const RELAY_QUEUE_DEPTH = 'postamt_relay_queue_depth';

/** One sample: what happened in the `ms` before `t` (counts), and levels at `t`. */
export interface StatsSample {
  /** Epoch ms of the sample. */
  t: number;
  accepted: number;
  rejected: number;
  /** Recipients filed into local mailboxes. */
  delivered: number;
  /** Relayed recipients handed to the next provider. */
  relayed: number;
  /** Relayed recipients that failed for good (a DSN went back). */
  relayFailed: number;
  queueDepth: number;
  /** Latency percentiles of the messages answered in the interval, in ms (null: none answered). */
  p50: number | null;
  p95: number | null;
  p99: number | null;
}

interface Totals {
  accepted: number;
  rejected: number;
  delivered: number;
  relayed: number;
  relayFailed: number;
  latency: number[];
  latencyCount: number;
}

function totals(m: Metrics): Totals {
  const h = m.histogramTotals(SMTP_MESSAGE_SECONDS);
  return {
    accepted: m.total('postamt_smtp_messages_accepted_total'),
    rejected: m.total('postamt_smtp_messages_rejected_total'),
    delivered: m.total('postamt_local_deliveries_total'),
    relayed: m.total('postamt_relay_recipients_total', { outcome: 'delivered' }),
    relayFailed: m.total('postamt_relay_recipients_total', { outcome: 'failed' }),
    latency: h?.counts ?? SMTP_MESSAGE_BUCKETS.map(() => 0),
    latencyCount: h?.count ?? 0,
  };
}

/**
 * The q-quantile (0..1) of observations given per-bucket cumulative counts, interpolated
 * linearly inside the bucket as Prometheus's histogram_quantile does; above the last bound
 * the last bound is the answer. In the buckets' unit.
 */
export function bucketQuantile(q: number, bounds: readonly number[], cumulative: readonly number[], count: number): number | null {
  if (count <= 0) return null;
  const rank = q * count;
  for (let i = 0; i < bounds.length; i++) {
    const c = cumulative[i]!;
    if (c >= rank) {
      const lower = i === 0 ? 0 : bounds[i - 1]!;
      const below = i === 0 ? 0 : cumulative[i - 1]!;
      const inBucket = c - below;
      return inBucket > 0 ? lower + ((bounds[i]! - lower) * (rank - below)) / inBucket : bounds[i]!;
    }
  }
  return bounds[bounds.length - 1]!;
}

export interface MetricsHistoryOptions {
  sampleMs: number;
  /** Samples kept (the ring's size). */
  samples: number;
  /** The relay queue's depth now; also set as the gauge postamt_relay_queue_depth. */
  queueDepth?: () => Promise<number>;
  now?: () => number;
}

/**
 * Snapshots the /metrics counters every `sampleMs` into a bounded ring, so the console's
 * charts read the same numbers as Prometheus without a second bookkeeping. A sample costs a few
 * map walks and one count query; GET /api/stats returns the ring as it is.
 */
export class MetricsHistory {
  private readonly ring: StatsSample[] = [];
  private last: Totals;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<void> | undefined;
  private readonly now: () => number;

  constructor(
    private readonly metrics: Metrics,
    private readonly opts: MetricsHistoryOptions,
  ) {
    this.now = opts.now ?? Date.now;
    metrics.declare(RELAY_QUEUE_DEPTH, 'gauge', 'relay queue entries, as last sampled');
    this.last = totals(metrics);
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => void this.sample(), this.opts.sampleMs);
    this.timer.unref();
  }

  /** Takes one sample now (the timer's job; tests call it to avoid waiting). */
  async sample(): Promise<StatsSample> {
    while (this.running) await this.running;
    let done!: () => void;
    this.running = new Promise((r) => (done = r));
    try {
      const depth = this.opts.queueDepth ? await this.opts.queueDepth().catch(() => -1) : 0;
      if (depth >= 0) this.metrics.set(RELAY_QUEUE_DEPTH, {}, depth, 'relay queue entries, as last sampled');
      const cur = totals(this.metrics);
      const lat = cur.latency.map((c, i) => c - (this.last.latency[i] ?? 0));
      const n = cur.latencyCount - this.last.latencyCount;
      const ms = (q: number): number | null => {
        const s = bucketQuantile(q, SMTP_MESSAGE_BUCKETS, lat, n);
        return s === null ? null : Math.round(s * 10_000) / 10;
      };
      const s: StatsSample = {
        t: this.now(),
        accepted: cur.accepted - this.last.accepted,
        rejected: cur.rejected - this.last.rejected,
        delivered: cur.delivered - this.last.delivered,
        relayed: cur.relayed - this.last.relayed,
        relayFailed: cur.relayFailed - this.last.relayFailed,
        queueDepth: Math.max(depth, 0),
        p50: ms(0.5),
        p95: ms(0.95),
        p99: ms(0.99),
      };
      this.last = cur;
      this.ring.push(s);
      if (this.ring.length > this.opts.samples) this.ring.splice(0, this.ring.length - this.opts.samples);
      return s;
    } finally {
      this.running = undefined;
      done();
    }
  }

  /** The samples, oldest first. */
  samples(): readonly StatsSample[] {
    return this.ring;
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }
}
