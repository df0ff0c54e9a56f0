import { useState } from 'preact/hooks';
import { call, type MailinAgent, type MailinDb, type MailinJob, type MailinRun } from '../api.js';
import { usePoll } from './use-poll.js';

const time = (iso: string | null) => (iso ? new Date(iso).toLocaleString('en-GB') : '–');
/** Run outcomes that are failures (the others are an agent's verdict: ok, accept, file, drop, reject…). */
const FAILED = new Set(['failed', 'timeout', 'memory', 'refused']);
const duration = (ms: number) => (ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(1)} s`);

/**
 * Mail-in databases and their agents (GET /api/mailin, /api/mailin/:db/agents), the run
 * history (GET /api/mailin/runs) and the jobs not done yet with Retry for those that failed
 * (POST /api/mailin/jobs/:id/retry). Agent secrets are never part of the answers.
 */
export function Mailin() {
  const dbs = usePoll(() => call<MailinDb[]>('GET', '/api/mailin'), 0);
  const agents = usePoll(allAgents, 0);
  const runs = usePoll(() => call<{ items: MailinRun[]; next: string | null }>('GET', '/api/mailin/runs?limit=50'), 10_000);
  const jobs = usePoll(() => call<MailinJob[]>('GET', '/api/mailin/jobs?limit=100'), 10_000);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);

  const retry = async (j: MailinJob) => {
    try {
      await call('POST', `/api/mailin/jobs/${j.id}/retry`);
      setMessage({ ok: true, text: `Job ${j.id} queued again; it runs at the worker's next poll.` });
    } catch (e) {
      setMessage({ ok: false, text: (e as Error).message });
    }
    jobs.reload();
    runs.reload();
  };
  const reload = () => {
    runs.reload();
    jobs.reload();
  };
  const failed = (jobs.data ?? []).filter((j) => j.state === 'dead' || (j.state === 'queued' && j.lastError));

  return (
    <>
      {message && (
        <p role={message.ok ? 'status' : 'alert'} class={message.ok ? 'notice' : 'error'}>
          {message.text}
        </p>
      )}
      {[dbs.error, agents.error, runs.error, jobs.error].filter(Boolean).map((e) => (
        <p role="alert" class="error" key={e}>
          {e}
        </p>
      ))}
      <section aria-labelledby="dbs-h">
        <h2 id="dbs-h">Databases</h2>
        <table>
          <caption>{dbs.data ? `${dbs.data.length} database(s)` : 'Loading…'}</caption>
          <thead>
            <tr>
              <th scope="col">Address</th>
              <th scope="col">Name</th>
              <th scope="col">Description</th>
              <th scope="col">Created</th>
            </tr>
          </thead>
          <tbody>
            {(dbs.data ?? []).map((d) => (
              <tr key={d.address}>
                <th scope="row">{d.address}</th>
                <td class="display-name">{d.name}</td>
                <td class="wrap">{d.description ?? '–'}</td>
                <td>{time(d.createdAt)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="agents-h">
        <h2 id="agents-h">Agents</h2>
        <table>
          <caption>{agents.data ? `${agents.data.length} agent(s); secrets are never shown` : 'Loading…'}</caption>
          <thead>
            <tr>
              <th scope="col">Agent</th>
              <th scope="col">Database</th>
              <th scope="col">Trigger</th>
              <th scope="col">Runs</th>
              <th scope="col">Time limit</th>
              <th scope="col">On failure</th>
              <th scope="col">Raw message</th>
            </tr>
          </thead>
          <tbody>
            {(agents.data ?? []).map((a) => (
              <tr key={a.id}>
                <th scope="row" class="display-name">{`#${a.id}${a.name ? ` ${a.name}` : ''}`}</th>
                <td>{a.database}</td>
                <td>{a.trigger}</td>
                <td class="wrap">{a.kind === 'webhook' ? `webhook ${a.url ?? ''}` : `script ${a.script ?? ''}`}</td>
                <td>{duration(a.timeoutMs)}</td>
                <td>{a.onFailure ?? '–'}</td>
                <td>{a.includeRaw ? 'included' : 'no'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="jobs-h">
        <h2 id="jobs-h">Failed jobs</h2>
        <p class="hint">After-delivery runs that failed: given up (dead) or waiting for their next attempt. Retry runs one again now with a fresh series of attempts.</p>
        <table>
          <caption>{jobs.data ? `${failed.length} failed job(s)` : 'Loading…'}</caption>
          <thead>
            <tr>
              <th scope="col">Job</th>
              <th scope="col">Database</th>
              <th scope="col">Agent</th>
              <th scope="col">Document</th>
              <th scope="col">State</th>
              <th scope="col">Attempts</th>
              <th scope="col">Last error</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {failed.map((j) => (
              <tr key={j.id} data-job={j.id}>
                <th scope="row">{`#${j.id}`}</th>
                <td>{j.database}</td>
                <td>{`#${j.agent}`}</td>
                <td class="wrap">{j.document}</td>
                <td data-state class="bad">{j.state}</td>
                <td>{j.attempts}</td>
                <td class="wrap">{j.lastError ?? '–'}</td>
                <td class="actions">
                  <button type="button" class="secondary" aria-label={`Retry job ${j.id}`} onClick={() => void retry(j)}>
                    Retry
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="runs-h">
        <h2 id="runs-h">Run history</h2>
        <button type="button" class="secondary" onClick={reload}>
          Reload
        </button>
        <table>
          <caption>{runs.data ? `the last ${runs.data.items.length} run(s), newest first` : 'Loading…'}</caption>
          <thead>
            <tr>
              <th scope="col">Started</th>
              <th scope="col">Database</th>
              <th scope="col">Agent</th>
              <th scope="col">Trigger</th>
              <th scope="col">Attempt</th>
              <th scope="col">Outcome</th>
              <th scope="col">Duration</th>
              <th scope="col">HTTP</th>
              <th scope="col">Error</th>
            </tr>
          </thead>
          <tbody>
            {(runs.data?.items ?? []).map((r) => (
              <tr key={r.id} data-run={r.id}>
                <th scope="row">{time(r.startedAt)}</th>
                <td>{r.database}</td>
                <td>{`#${r.agent}`}</td>
                <td>{r.trigger}</td>
                <td>{r.attempt}</td>
                <td data-outcome class={FAILED.has(r.outcome) ? 'bad' : 'ok'}>
                  {r.outcome}
                </td>
                <td>{duration(r.durationMs)}</td>
                <td>{r.httpStatus ?? '–'}</td>
                <td class="wrap">{r.error ?? '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
    </>
  );
}

/** Every database's agents: the API lists them per database. */
async function allAgents(): Promise<MailinAgent[]> {
  const dbs = await call<MailinDb[]>('GET', '/api/mailin');
  return (await Promise.all(dbs.map((d) => call<MailinAgent[]>('GET', `/api/mailin/${encodeURIComponent(d.address)}/agents`)))).flat();
}
