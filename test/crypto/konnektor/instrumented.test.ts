import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Metrics } from '../../../src/core/index.js';
import { KonnektorError, SoftwareKonnektor, cardLoaderFromFiles, createTestPki, instrumentKonnektor } from '../../../src/crypto/index.js';

// The client module's Konnektor metrics: calls by operation and outcome, latency as a
// Prometheus histogram, around a real (software) Konnektor.

let dir: string;
before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postamt-konnektor-metrics-'));
  await createTestPki({ dir, practices: [{ id: 'praxis-a', name: 'Praxis A', telematikId: '1-1', email: 'a@praxis.kim.test', keys: 'both' }], tlsNames: ['localhost'] });
});
after(() => rmSync(dir, { recursive: true, force: true }));

test('calls, outcomes and latency of every Konnektor operation are on /metrics', async () => {
  const metrics = new Metrics();
  const inner = new SoftwareKonnektor({ trustAnchors: [], mandanten: [{ id: 'm', clientSystems: ['cs'], workplaces: ['*'], smcb: cardLoaderFromFiles({ dir: 'praxis-a' }, dir) }] });
  const k = instrumentKonnektor(inner, metrics);
  assert.equal(k.eccCapable, true);
  assert.equal(k.productInfo, inner.productInfo);
  await k.readCardCertificate({ mandantId: 'm', clientSystemId: 'cs', workplaceId: '1' }, 'C.ENC', 'ECC');
  await assert.rejects(k.readCardCertificate({ mandantId: 'x', clientSystemId: 'cs', workplaceId: '1' }, 'C.ENC'), KonnektorError);
  await assert.rejects(k.decryptDocument({ mandantId: 'm', clientSystemId: 'cs', workplaceId: '1' }, { document: Buffer.from('junk') }));
  assert.equal(metrics.value('postamt_konnektor_calls_total', { op: 'readCardCertificate', outcome: 'ok' }), 1);
  assert.equal(metrics.value('postamt_konnektor_calls_total', { op: 'readCardCertificate', outcome: 'unknown-mandant' }), 1);
  assert.equal(metrics.value('postamt_konnektor_calls_total', { op: 'decryptDocument', outcome: 'data' }), 1);
  const text = metrics.render();
  assert.match(text, /^# TYPE postamt_konnektor_call_duration_seconds histogram$/m);
  assert.match(text, /^postamt_konnektor_call_duration_seconds_bucket\{op="readCardCertificate",le="\+Inf"\} 2$/m);
  assert.match(text, /^postamt_konnektor_call_duration_seconds_count\{op="decryptDocument"\} 1$/m);
  // Buckets are cumulative: each is at least the one before.
  const counts = [...text.matchAll(/^postamt_konnektor_call_duration_seconds_bucket\{op="readCardCertificate",le="([^"]+)"\} (\d+)$/gm)].map((m) => Number(m[2]));
  assert.ok(counts.every((c, i) => i === 0 || c >= counts[i - 1]!));
});
