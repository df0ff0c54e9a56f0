import type { FastifyPluginAsync } from 'fastify';

/** What the overview routes need: the sampled counters and what the service knows of itself. */
export interface StatsAdminView {
  sampleMs: number;
  samples(): readonly object[];
  /** Listeners by name, as the service started them. */
  listeners(): Record<string, { host: string; port: number; tls: string }>;
  /** The same check as /healthz. */
  health(): Promise<{ ok: boolean; checks: Record<string, string> }>;
}

/**
 * The console's overview under /api:
 *   GET /stats     {sampleMs, samples: [{t, accepted, rejected, delivered, relayed, relayFailed, queueDepth, p50, p95, p99}]}
 *                  counts per sample interval, oldest first, from the counters of /metrics
 *   GET /status    {health: {ok, checks}, listeners: [{name, host, port, tls}]}
 */
export function statsAdminRoutes(view: StatsAdminView): FastifyPluginAsync {
  return async (api) => {
    api.get('/stats', async () => ({ sampleMs: view.sampleMs, samples: view.samples() }));
    api.get('/status', async () => {
      const health = await view.health().catch((err: Error) => ({ ok: false, checks: { error: err.message } }));
      return { health, listeners: Object.entries(view.listeners()).map(([name, l]) => ({ name, host: l.host, port: l.port, tls: l.tls })) };
    });
  };
}
