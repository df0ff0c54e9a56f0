import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Metrics, MetricsHistory, bucketQuantile, SMTP_MESSAGE_SECONDS, SMTP_MESSAGE_BUCKETS } from '../../src/core/index.js';

test('bucketQuantile interpolates inside the bucket as histogram_quantile does; none observed is null', () => {
  // 10 observations: 4 in (0, 1], 6 in (1, 2].
  assert.equal(bucketQuantile(0.5, [1, 2], [4, 10], 10), 1 + (1 * 1) / 6);
  assert.equal(bucketQuantile(0.2, [1, 2], [4, 10], 10), 0.5);
  assert.equal(bucketQuantile(0.99, [1, 2], [4, 4], 10), 2, 'above the last bound: the last bound');
  assert.equal(bucketQuantile(0.5, [1, 2], [0, 0], 0), null);
});

test('MetricsHistory: per-interval counts and latency from the /metrics counters, a bounded ring, the queue gauge', async () => {
  const m = new Metrics();
  let depth = 3;
  let t = 1000;
  const h = new MetricsHistory(m, { sampleMs: 1000, samples: 2, queueDepth: async () => depth, now: () => t });
  m.inc('postamt_smtp_messages_accepted_total', { listener: 'smtp-mx' }, 2);
  m.inc('postamt_smtp_messages_accepted_total', { listener: 'smtp-submission' }, 1);
  m.inc('postamt_smtp_messages_rejected_total', { listener: 'smtp-mx', code: '5.1.1' });
  m.inc('postamt_local_deliveries_total', {}, 4);
  m.inc('postamt_relay_recipients_total', { outcome: 'delivered' }, 2);
  m.inc('postamt_relay_recipients_total', { outcome: 'deferred' }, 5);
  for (const s of [0.004, 0.004, 0.2]) m.observe(SMTP_MESSAGE_SECONDS, { listener: 'smtp-mx' }, s, SMTP_MESSAGE_BUCKETS);
  const a = await h.sample();
  assert.deepEqual({ ...a, p50: undefined, p95: undefined, p99: undefined }, { t: 1000, accepted: 3, rejected: 1, delivered: 4, relayed: 2, relayFailed: 0, queueDepth: 3, p50: undefined, p95: undefined, p99: undefined });
  assert.ok(a.p50! > 0 && a.p50! <= 5 && a.p99! > 100 && a.p99! <= 250, JSON.stringify(a));
  assert.match(m.render(), /postamt_relay_queue_depth 3/);
  t = 2000;
  depth = 0;
  const b = await h.sample();
  assert.deepEqual([b.accepted, b.delivered, b.queueDepth, b.p50], [0, 0, 0, null]);
  t = 3000;
  m.inc('postamt_smtp_messages_accepted_total', { listener: 'smtp-mx' });
  await h.sample();
  assert.deepEqual(h.samples().map((s) => [s.t, s.accepted]), [[2000, 0], [3000, 1]], 'the oldest sample dropped');
  h.close();
});
