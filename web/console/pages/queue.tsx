import { useState } from 'preact/hooks';
import { call, type QueueEntry } from '../api.js';
import { usePoll } from './use-poll.js';

const time = (ms: number) => new Date(ms).toLocaleString('en-GB');

export function Queue() {
  const queue = usePoll(() => call<QueueEntry[]>('GET', '/api/queue?limit=500'), 10_000);
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  // Return to sender asks once more in the row (a failure report cannot be taken back).
  const [returning, setReturning] = useState<number | null>(null);
  const act = async (text: string, f: () => Promise<unknown>) => {
    try {
      await f();
      setMessage({ ok: true, text });
    } catch (e) {
      setMessage({ ok: false, text: (e as Error).message });
    }
    queue.reload();
  };
  const rows = queue.data ?? [];
  return (
    <>
      {message && (
        <p role={message.ok ? 'status' : 'alert'} class={message.ok ? 'notice' : 'error'}>
          {message.text}
        </p>
      )}
      {queue.error && <p role="alert" class="error">{queue.error}</p>}
      <p>
        Recipients waiting for another provider. <em>Retry now</em> makes an entry due at once; <em>Return to sender</em> ends it with a failure report (DSN) to the sender, as when it expires; <em>Delete</em> drops it without delivery and without a report to the sender.
      </p>
      <button type="button" onClick={() => void act('Every waiting entry is due now.', () => call('POST', '/api/queue/retry'))} disabled={rows.length === 0}>
        Retry all now
      </button>
      <table>
        <caption>{queue.data ? `${rows.length} queued recipient(s)` : 'Loading…'}</caption>
        <thead>
          <tr>
            <th scope="col">Recipient</th>
            <th scope="col">Sender</th>
            <th scope="col">Size</th>
            <th scope="col">Attempts</th>
            <th scope="col">State</th>
            <th scope="col">Next attempt</th>
            <th scope="col">Last error</th>
            <th scope="col">Actions</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((e) => (
            <tr key={e.id}>
              <th scope="row">{e.recipient}</th>
              <td>{e.sender || '<>'}</td>
              <td>{`${Math.ceil(e.size / 1024)} KB`}</td>
              <td data-attempts>{e.attempts}</td>
              <td>{e.state}</td>
              <td>{time(e.nextAttemptAt)}</td>
              <td class="wrap">{e.lastError ?? '–'}</td>
              <td class="actions">
                <button type="button" class="secondary" aria-label={`Retry ${e.recipient} now`} onClick={() => void act(`Entry ${e.id} is due now.`, () => call('POST', `/api/queue/${e.id}/retry`))}>
                  Retry now
                </button>
                {returning === e.id ? (
                  <>
                    <button
                      type="button"
                      class="danger"
                      aria-label={`Confirm: return ${e.recipient} to sender`}
                      onClick={() => {
                        setReturning(null);
                        void act(`Entry ${e.id} returned to the sender.`, async () => {
                          const r = await call<{ dsn: string | null }>('POST', `/api/queue/${e.id}/bounce`);
                          if (!r.dsn) throw new Error(`Entry ${e.id} ended; no report could be sent (null sender, or the sender has no mailbox here).`);
                        });
                      }}
                    >
                      Confirm return
                    </button>
                    <button type="button" class="secondary" aria-label={`Keep ${e.recipient} queued`} onClick={() => setReturning(null)}>
                      Keep
                    </button>
                  </>
                ) : (
                  <button type="button" class="secondary" aria-label={`Return ${e.recipient} to sender`} onClick={() => setReturning(e.id)}>
                    Return to sender
                  </button>
                )}
                <button
                  type="button"
                  class="danger"
                  aria-label={`Delete ${e.recipient}`}
                  onClick={() => {
                    if (confirm(`Drop the entry for ${e.recipient} without delivery?`)) void act(`Entry ${e.id} deleted.`, () => call('DELETE', `/api/queue/${e.id}`));
                  }}
                >
                  Delete
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
