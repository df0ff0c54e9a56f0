import { useEffect, useState } from 'preact/hooks';
import { call, type Stats, type Status } from '../api.js';
import { Chart } from './chart.js';
import { usePoll } from './use-poll.js';

export function Overview() {
  const status = usePoll(() => call<Status>('GET', '/api/status'), 15_000);
  // The charts are asked for as often as the server samples (service.http.console.sampleMs), no more.
  const [every, setEvery] = useState(10_000);
  const stats = usePoll(() => call<Stats>('GET', '/api/stats'), every, [every]);
  const s = stats.data;
  useEffect(() => {
    if (s && s.sampleMs !== every) setEvery(Math.max(1000, s.sampleMs));
  }, [s?.sampleMs]);
  const perMin = s ? 60_000 / s.sampleMs : 1;
  const t = s?.samples.map((x) => x.t / 1000) ?? [];
  const rate = (k: 'accepted' | 'delivered' | 'relayed' | 'rejected') => s?.samples.map((x) => Math.round(x[k] * perMin * 10) / 10) ?? [];
  const latest = s?.samples[s.samples.length - 1];
  const lastP95 = s?.samples.findLast((x) => x.p95 !== null)?.p95 ?? undefined;
  const sum = (k: 'accepted' | 'delivered' | 'relayed' | 'rejected') => s?.samples.reduce((n, x) => n + x[k], 0) ?? 0;
  return (
    <>
      <section aria-labelledby="health-h">
        <h2 id="health-h">Health</h2>
        {status.error && <p role="alert" class="error">{status.error}</p>}
        {status.data && (
          <>
            <p>
              Service:{' '}
              <strong class={status.data.health.ok ? 'ok' : 'bad'}>{status.data.health.ok ? 'ready' : 'unavailable'}</strong>{' '}
              {Object.entries(status.data.health.checks).map(([k, v]) => `${k}: ${v}`).join(', ')}
            </p>
            <table>
              <caption>Listeners</caption>
              <thead>
                <tr>
                  <th scope="col">Listener</th>
                  <th scope="col">Address</th>
                  <th scope="col">TLS</th>
                  <th scope="col">State</th>
                </tr>
              </thead>
              <tbody>
                {status.data.listeners.map((l) => (
                  <tr key={l.name}>
                    <th scope="row">{l.name}</th>
                    <td>{`${l.host}:${l.port}`}</td>
                    <td>{l.tls}</td>
                    <td class="ok">listening</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </>
        )}
      </section>
      <section aria-labelledby="traffic-h">
        <h2 id="traffic-h">Traffic</h2>
        {stats.error && <p role="alert" class="error">{stats.error}</p>}
        {s && s.samples.length === 0 && <p>No samples yet: the first comes {s.sampleMs / 1000} s after the start.</p>}
        {latest && s && (
          <>
            <p class="hint">{`Totals over the last ${Math.round((s.samples.length * s.sampleMs) / 60_000) || 1} min; latency of the last interval with traffic.`}</p>
            <dl class="figures">
              <div><dt>Accepted</dt><dd data-figure="accepted">{sum('accepted')}</dd></div>
              <div><dt>Delivered</dt><dd data-figure="delivered">{sum('delivered')}</dd></div>
              <div><dt>Relayed</dt><dd data-figure="relayed">{sum('relayed')}</dd></div>
              <div><dt>Rejected</dt><dd data-figure="rejected">{sum('rejected')}</dd></div>
              <div><dt>Queue now</dt><dd data-figure="queue">{latest.queueDepth}</dd></div>
              <div><dt>Latency p95</dt><dd data-figure="p95">{lastP95 === undefined ? '–' : `${lastP95} ms`}</dd></div>
            </dl>
          </>
        )}
        {s && s.samples.length > 0 && (
          <div class="charts">
            <Chart
              id="messages"
              title="Messages per minute"
              unit="per min"
              t={t}
              series={[
                { label: 'accepted', color: '#1f6feb', values: rate('accepted') },
                { label: 'delivered', color: '#1a7f37', values: rate('delivered') },
                { label: 'relayed', color: '#8250df', values: rate('relayed') },
                { label: 'rejected', color: '#cf222e', values: rate('rejected') },
              ]}
            />
            <Chart id="queue" title="Relay queue depth" unit="entries" t={t} series={[{ label: 'queued', color: '#9a6700', values: s.samples.map((x) => x.queueDepth) }]} />
            <Chart
              id="latency"
              title="SMTP latency (DATA to answer)"
              unit="ms"
              t={t}
              series={[
                { label: 'p50', color: '#1a7f37', values: s.samples.map((x) => x.p50) },
                { label: 'p95', color: '#9a6700', values: s.samples.map((x) => x.p95) },
                { label: 'p99', color: '#cf222e', values: s.samples.map((x) => x.p99) },
              ]}
            />
          </div>
        )}
      </section>
    </>
  );
}
