import type { Metrics } from '../../core/index.js';
import { KonnektorError } from './errors.js';
import type { Konnektor, KonnektorContext } from './types.js';

/** Seconds: a real Konnektor answers in tens of milliseconds; signing with a PIN prompt takes seconds. */
const BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

const OPERATIONS = ['readCardCertificate', 'signDocument', 'externalAuthenticate', 'encryptDocument', 'decryptDocument', 'verifyDocument'] as const;

/**
 * A Konnektor that counts what it is asked: calls per operation and outcome
 * (`postamt_konnektor_calls_total{op,outcome}`: `ok`, a KonnektorError code, or `data` for a
 * message the Konnektor refused as damaged), and their latency
 * (`postamt_konnektor_call_duration_seconds{op}`). The client module wraps whichever Konnektor it
 * has (software or SOAP), so /metrics shows how the practice's Konnektor behaves.
 */
export function instrumentKonnektor(inner: Konnektor, metrics: Metrics): Konnektor {
  metrics.declare('postamt_konnektor_calls_total', 'counter', 'Konnektor calls by operation and outcome');
  const wrap = <A extends unknown[], R>(op: (typeof OPERATIONS)[number], fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      const start = performance.now();
      let outcome = 'ok';
      try {
        return await fn(...args);
      } catch (err) {
        outcome = err instanceof KonnektorError ? err.code : 'data';
        throw err;
      } finally {
        metrics.inc('postamt_konnektor_calls_total', { op, outcome }, 1, 'Konnektor calls by operation and outcome');
        metrics.observe('postamt_konnektor_call_duration_seconds', { op }, (performance.now() - start) / 1000, BUCKETS, 'Konnektor call latency');
      }
    };
  const wrapped: Konnektor = {
    get productInfo() {
      return inner.productInfo;
    },
    get eccCapable() {
      return inner.eccCapable;
    },
    readCardCertificate: wrap('readCardCertificate', inner.readCardCertificate.bind(inner)),
    signDocument: wrap('signDocument', inner.signDocument.bind(inner)),
    externalAuthenticate: wrap('externalAuthenticate', inner.externalAuthenticate.bind(inner)),
    encryptDocument: wrap('encryptDocument', inner.encryptDocument.bind(inner)),
    decryptDocument: wrap('decryptDocument', inner.decryptDocument.bind(inner)),
    verifyDocument: wrap('verifyDocument', inner.verifyDocument.bind(inner)),
    ...(inner.ready ? { ready: () => inner.ready!() } : {}),
    // For the facts of the Konnektor serving a context; its calls still go through the counted methods above.
    ...(inner.forContext ? { forContext: (ctx: KonnektorContext) => inner.forContext!(ctx) } : {}),
    ...(inner.close ? { close: () => inner.close!() } : {}),
  };
  return wrapped;
}
