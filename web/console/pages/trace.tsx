import { useState } from 'preact/hooks';
import { call, query, type TraceDetail, type TraceSummary } from '../api.js';
import { EVENT_TITLES, describeEvent } from './trace-events.js';

const time = (iso: string) => new Date(iso).toLocaleString('en-GB');
/** datetime-local has no zone: it is the browser's local time, sent as ISO 8601 in UTC. */
const zoned = (v: string) => (v ? new Date(v).toISOString() : undefined);

/**
 * The message trace (GET /api/trace, /api/trace/:id): search by Message-ID, address or time,
 * then one message's way as a timeline. The trace holds envelope facts only, never a body or
 * a Subject, so a KOM-LE message shows as "ciphertext only".
 */
export function Trace() {
  const [form, setForm] = useState({ messageId: '', address: '', from: '', to: '' });
  const [items, setItems] = useState<TraceSummary[] | null>(null);
  const [next, setNext] = useState<string | undefined>(undefined);
  const [error, setError] = useState('');
  const [shown, setShown] = useState<TraceDetail | null>(null);

  const search = async (cursor?: string) => {
    setError('');
    try {
      const q = query({ messageId: form.messageId.trim(), address: form.address.trim(), from: zoned(form.from), to: zoned(form.to), limit: 50, cursor });
      const page = await call<{ items: TraceSummary[]; next?: string }>('GET', `/api/trace${q}`);
      setItems(cursor && items ? [...items, ...page.items] : page.items);
      setNext(page.next);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const show = async (id: string) => {
    setError('');
    try {
      setShown(await call<TraceDetail>('GET', `/api/trace/${encodeURIComponent(id)}`));
      requestAnimationFrame(() => document.getElementById('trace-detail-h')?.focus());
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const field = (name: keyof typeof form, label: string, type: 'text' | 'datetime-local' = 'text', hint?: string) => (
    <>
      <label for={`trace-${name}`}>{label}</label>
      <input id={`trace-${name}`} type={type as 'text'} value={form[name]} placeholder={hint} onInput={(e) => setForm({ ...form, [name]: e.currentTarget.value })} />
    </>
  );

  return (
    <>
      <p>
        Find a message by its Message-ID, a sender or recipient address, or the time it arrived; filters combine. The trace keeps envelope facts only — no body,
        no Subject.
      </p>
      <form
        class="grid"
        role="search"
        aria-label="Trace messages"
        onSubmit={(e) => {
          e.preventDefault();
          setShown(null);
          void search();
        }}
      >
        {field('messageId', 'Message-ID', 'text', 'with or without <>')}
        {field('address', 'Address', 'text', 'sender or recipient')}
        {field('from', 'Received from', 'datetime-local')}
        {field('to', 'Received before', 'datetime-local')}
        <button type="submit">Search</button>
      </form>
      {error && <p role="alert" class="error">{error}</p>}
      {items && (
        <table>
          <caption>{`${items.length} message(s)${next ? ', more older ones' : ''}`}</caption>
          <thead>
            <tr>
              <th scope="col">Received</th>
              <th scope="col">Message-ID</th>
              <th scope="col">From</th>
              <th scope="col">Recipients</th>
              <th scope="col">Size</th>
              <th scope="col">Kind</th>
              <th scope="col">Status</th>
              <th scope="col">Trace</th>
            </tr>
          </thead>
          <tbody>
            {items.map((m) => (
              <tr key={m.id}>
                <th scope="row">{time(m.receivedAt)}</th>
                <td class="wrap">{m.messageId ?? '–'}</td>
                <td class="wrap">{m.mailFrom || '<>'}</td>
                <td>{m.recipients}</td>
                <td>{m.size === null ? '–' : `${Math.ceil(m.size / 1024)} KB`}</td>
                <td>{m.komle ? 'KOM-LE' : 'mail'}</td>
                <td data-status>{m.status}</td>
                <td class="actions">
                  <button type="button" class="secondary" aria-label={`Show the way of message ${m.id}`} onClick={() => void show(m.id)}>
                    Show
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {next && (
        <button type="button" class="secondary" onClick={() => void search(next)}>
          Older messages
        </button>
      )}
      {shown && <TraceView m={shown} />}
    </>
  );
}

function TraceView({ m }: { m: TraceDetail }) {
  return (
    <section aria-labelledby="trace-detail-h" class="trace">
      <h2 id="trace-detail-h" tabIndex={-1}>{`Message ${m.id}`}</h2>
      <dl class="facts">
        <div>
          <dt>Message-ID</dt>
          <dd>{m.messageId ?? '–'}</dd>
        </div>
        <div>
          <dt>From</dt>
          <dd>{m.mailFrom || '<>'}</dd>
        </div>
        <div>
          <dt>To</dt>
          <dd>{m.recipientAddresses.join(', ') || '–'}</dd>
        </div>
        <div>
          <dt>Client</dt>
          <dd>{`${m.clientIp ?? 'unknown'} over ${m.listener}${m.authUser ? `, logged in as ${m.authUser}` : ''}`}</dd>
        </div>
        <div>
          <dt>TLS</dt>
          <dd>{m.tls ?? 'none'}</dd>
        </div>
        <div>
          <dt>Content</dt>
          <dd>{m.komle ? 'KOM-LE: ciphertext only' : 'mail'}</dd>
        </div>
        <div>
          <dt>Status</dt>
          <dd data-trace-status>{m.status}</dd>
        </div>
      </dl>
      <h3>Timeline</h3>
      <ol class="timeline" aria-label={`Events of message ${m.id}`}>
        {m.events.map((e, i) => (
          <li key={i} data-kind={e.kind}>
            <time dateTime={e.at}>{time(e.at)}</time>
            <strong>{EVENT_TITLES[e.kind] ?? e.kind}</strong>
            <span class="hint">{` on ${e.node}`}</span>
            <ul>
              {describeEvent(e).map((line, k) => (
                <li key={k}>{line}</li>
              ))}
            </ul>
          </li>
        ))}
      </ol>
    </section>
  );
}
