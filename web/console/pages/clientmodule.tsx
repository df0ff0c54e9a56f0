import { call, type ClientModuleOutcome, type ClientModuleView } from '../api.js';
import { usePoll } from './use-poll.js';

const time = (iso: string) => new Date(iso).toLocaleString('en-GB');
const ids = (v: string[] | null) => (v === null ? 'all the Mandant allows' : v.join(', '));
const codeText = (codes: Record<string, string | string[]>) =>
  Object.entries(codes)
    .map(([k, v]) => `${k}: ${Array.isArray(v) ? v.join(', ') : v}`)
    .join('; ') || '–';

/**
 * The client module: its Mandanten, client systems and workplaces and which account may use
 * which (GET /api/clientmodule), the Konnektor's cards and PIN status (GET /api/konnektor/status),
 * and the recent send/receive results with their KIM codes (GET /api/clientmodule/outcomes).
 */
export function ClientModule() {
  const view = usePoll(() => call<ClientModuleView>('GET', '/api/clientmodule'), 0);
  const outcomes = usePoll(() => (view.data?.outcomesHere ? call<{ capacity: number; items: ClientModuleOutcome[] }>('GET', '/api/clientmodule/outcomes?limit=200') : Promise.resolve(undefined)), 10_000, [view.data?.outcomesHere]);
  const status = usePoll(() => call<unknown>('GET', '/api/konnektor/status'), 0);
  const v = view.data;
  return (
    <>
      {view.error && <p role="alert" class="error">{view.error}</p>}
      <section aria-labelledby="cm-outcomes-h">
        <h2 id="cm-outcomes-h">Recent send and receive results</h2>
        {v && !v.outcomesHere && (
          <p class="notice" role="status">
            No client module runs in this process, so its results are not here: they are in the client module's own log (this listener shows them when both roles run in one
            process, as with npm start).
          </p>
        )}
        {outcomes.error && <p role="alert" class="error">{outcomes.error}</p>}
        {v?.outcomesHere && (
          <table>
            <caption>{outcomes.data ? `the last ${outcomes.data.items.length} of at most ${outcomes.data.capacity}, newest first; addresses and KIM codes only` : 'Loading…'}</caption>
            <thead>
              <tr>
                <th scope="col">Time</th>
                <th scope="col">Direction</th>
                <th scope="col">Account</th>
                <th scope="col">From</th>
                <th scope="col">To</th>
                <th scope="col">Result</th>
                <th scope="col">KIM codes</th>
                <th scope="col">Error</th>
              </tr>
            </thead>
            <tbody>
              {(outcomes.data?.items ?? []).map((o, i) => (
                <tr key={`${o.at}-${i}`} data-outcome={o.direction}>
                  <th scope="row">{time(o.at)}</th>
                  <td>{o.direction}</td>
                  <td class="wrap">{o.account}</td>
                  <td class="wrap">{o.from || '–'}</td>
                  <td class="wrap">{o.to.join(', ') || '–'}</td>
                  <td data-result class={o.result === 'ok' ? 'ok' : 'bad'}>
                    {o.result}
                  </td>
                  <td class="wrap" data-codes>
                    {codeText(o.codes)}
                  </td>
                  <td class="wrap">{o.error ?? '–'}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </section>
      <section aria-labelledby="cm-contexts-h">
        <h2 id="cm-contexts-h">Mandanten, client systems, workplaces</h2>
        {v && <p>{`Konnektor: ${v.konnektor.type}${v.konnektor.url ? ` at ${v.konnektor.url}` : ''}`}</p>}
        {v?.mandantenFrom === 'accounts' && <p class="hint">The Konnektor holds its Mandanten and their cards; listed are those the accounts below call it for.</p>}
        <table>
          <caption>{v ? `${v.mandanten.length} Mandant(en)` : 'Loading…'}</caption>
          <thead>
            <tr>
              <th scope="col">Mandant</th>
              <th scope="col">Client systems</th>
              <th scope="col">Workplaces</th>
              <th scope="col">SMC-B</th>
              <th scope="col">HBA users</th>
            </tr>
          </thead>
          <tbody>
            {(v?.mandanten ?? []).map((m) => (
              <tr key={m.id}>
                <th scope="row">{m.id}</th>
                <td>{m.clientSystems.join(', ')}</td>
                <td>{m.workplaces.join(', ')}</td>
                <td>{m.smcb ? 'configured' : 'from the Konnektor'}</td>
                <td>{m.hbaUsers.join(', ') || '–'}</td>
              </tr>
            ))}
          </tbody>
        </table>
        <table>
          <caption>{v ? `${v.accounts.length} account(s) allowed to log in` : 'Loading…'}</caption>
          <thead>
            <tr>
              <th scope="col">Account</th>
              <th scope="col">Mandant</th>
              <th scope="col">Client systems</th>
              <th scope="col">Workplaces</th>
              <th scope="col">Users</th>
            </tr>
          </thead>
          <tbody>
            {(v?.accounts ?? []).flatMap((a) =>
              a.contexts.map((c, i) => (
                <tr key={`${a.address}-${i}`}>
                  <th scope="row">{a.address}</th>
                  <td>{c.mandant}</td>
                  <td>{ids(c.clientSystems)}</td>
                  <td>{ids(c.workplaces)}</td>
                  <td>{ids(c.users)}</td>
                </tr>
              )),
            )}
          </tbody>
        </table>
      </section>
      <section aria-labelledby="cm-konnektor-h">
        <h2 id="cm-konnektor-h">Konnektor: cards and PIN status</h2>
        {status.error && <p role="alert" class="error">{`The Konnektor's status could not be read: ${status.error}`}</p>}
        {status.data !== undefined && <KonnektorStatus data={status.data} />}
      </section>
    </>
  );
}

interface CardStatus {
  context: { mandantId: string; clientSystemId: string; workplaceId: string; userId?: string };
  card: 'SMC-B' | 'HBA';
  handle?: string;
  iccsn?: string;
  pinStatus?: string;
  certificates: Array<{ ref: string; crypt: string; subject: string; notAfter: string; daysLeft: number; expiresSoon: boolean }>;
  error?: { code: string; message: string };
}

/** The status report (crypto/konnektor/status.ts): each card its context reaches, PIN status, certificates and their expiry. */
function KonnektorStatus({ data }: { data: unknown }) {
  const d = data as { productInfo?: string; eccCapable?: boolean; cards?: CardStatus[] };
  const cards = d.cards ?? [];
  return (
    <>
      <p>{`${d.productInfo ?? 'Konnektor'}; ECC ${d.eccCapable ? 'supported' : 'not supported'}`}</p>
      <table>
        <caption>{`${cards.length} card(s)`}</caption>
        <thead>
          <tr>
            <th scope="col">Card</th>
            <th scope="col">Context</th>
            <th scope="col">ICCSN / handle</th>
            <th scope="col">PIN</th>
            <th scope="col">Certificates</th>
          </tr>
        </thead>
        <tbody>
          {cards.map((c, i) => (
            <tr key={i}>
              <th scope="row">{c.card}</th>
              <td>{`${c.context.mandantId} / ${c.context.clientSystemId} / ${c.context.workplaceId}${c.context.userId ? ` / ${c.context.userId}` : ''}`}</td>
              <td class="wrap">{[c.iccsn, c.handle].filter(Boolean).join(' / ') || '–'}</td>
              <td>{c.pinStatus ?? 'not reported'}</td>
              <td class="wrap">
                {c.error ? (
                  <span class="bad">{`${c.error.code}: ${c.error.message}`}</span>
                ) : (
                  <ul class="plain">
                    {c.certificates.map((x) => (
                      <li key={`${x.ref}-${x.crypt}`}>
                        {`${x.ref} ${x.crypt}, until ${new Date(x.notAfter).toLocaleDateString('en-GB')} `}
                        {x.expiresSoon && <span class="warning">{x.daysLeft < 0 ? 'expired' : `expires in ${x.daysLeft} day(s)`}</span>}
                      </li>
                    ))}
                  </ul>
                )}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}
