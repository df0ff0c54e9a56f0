import { useState } from 'preact/hooks';
import { call, query, type CertificateDetails, type DirectoryEntry } from '../api.js';
import { directorySearchFilter } from '../ldap-filter.js';

const WARN_DAYS = 30;
const day = (iso: string) => (iso ? new Date(iso).toLocaleDateString('en-GB') : '–');
const first = (e: DirectoryEntry, a: string) => e.attributes[a]?.[0] ?? '';

/**
 * The directory (VZD) as a primary system searches it: name, mail, Telematik-ID, turned into an
 * RFC 4515 filter with every typed character escaped (GET /api/directory/entries?filter=). An
 * entry shows its attributes and its certificates decoded on the server (…/certificates/decoded).
 */
export function Directory() {
  const [form, setForm] = useState({ name: '', mail: '', telematikId: '' });
  const [entries, setEntries] = useState<DirectoryEntry[] | null>(null);
  const [next, setNext] = useState<string | null>(null);
  const [error, setError] = useState('');
  const [shown, setShown] = useState<{ entry: DirectoryEntry; certs: CertificateDetails[] } | null>(null);

  const search = async (after?: string) => {
    setError('');
    try {
      const page = await call<{ entries: DirectoryEntry[]; next: string | null }>('GET', `/api/directory/entries${query({ filter: directorySearchFilter(form), limit: 100, after })}`);
      setEntries(after && entries ? [...entries, ...page.entries] : page.entries);
      setNext(page.next);
    } catch (e) {
      setError((e as Error).message);
    }
  };
  const show = async (e: DirectoryEntry) => {
    setError('');
    try {
      const key = encodeURIComponent(e.telematikID || e.uid);
      setShown({ entry: e, certs: await call<CertificateDetails[]>('GET', `/api/directory/entries/${key}/certificates/decoded?warnDays=${WARN_DAYS}`) });
      requestAnimationFrame(() => document.getElementById('dir-entry-h')?.focus());
    } catch (err) {
      setError((err as Error).message);
    }
  };
  const field = (name: keyof typeof form, label: string, hint: string) => (
    <>
      <label for={`dir-${name}`}>{label}</label>
      <input id={`dir-${name}`} value={form[name]} placeholder={hint} onInput={(ev) => setForm({ ...form, [name]: ev.currentTarget.value })} />
    </>
  );

  return (
    <>
      <p>Search as a primary system does: part of the name, the start of the mail address or of the Telematik-ID; filled fields must all match.</p>
      <form
        class="grid"
        role="search"
        aria-label="Search the directory"
        onSubmit={(ev) => {
          ev.preventDefault();
          setShown(null);
          void search();
        }}
      >
        {field('name', 'Name', 'part of the display name')}
        {field('mail', 'Mail', 'start of the KIM address')}
        {field('telematikId', 'Telematik-ID', 'start of the ID')}
        <button type="submit">Search</button>
      </form>
      {error && <p role="alert" class="error">{error}</p>}
      {entries && (
        <table>
          <caption>{`${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}${next ? ', more on the next page' : ''}`}</caption>
          <thead>
            <tr>
              <th scope="col">Name</th>
              <th scope="col">Telematik-ID</th>
              <th scope="col">Mail</th>
              <th scope="col">Certificates</th>
              <th scope="col">Entry</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((e) => (
              <tr key={e.dn}>
                <th scope="row" class="display-name">{first(e, 'displayName') || e.uid}</th>
                <td>{e.telematikID || '–'}</td>
                <td class="wrap">{(e.attributes.mail ?? []).join(', ') || '–'}</td>
                <td>{e.certificates.length}</td>
                <td class="actions">
                  <button type="button" class="secondary" aria-label={`Show entry ${e.telematikID || e.uid}`} onClick={() => void show(e)}>
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
          Next page
        </button>
      )}
      {shown && <EntryView entry={shown.entry} certs={shown.certs} />}
    </>
  );
}

function stateText(c: CertificateDetails): string {
  if (c.state === 'expired') return `Expired ${day(c.notAfter)}`;
  if (c.state === 'expiring') return `Expires in ${c.daysLeft} day(s)`;
  if (c.state === 'not-yet-valid') return `Not valid before ${day(c.notBefore)}`;
  if (c.state === 'unreadable') return 'Cannot be decoded';
  return 'Valid';
}

function EntryView({ entry, certs }: { entry: DirectoryEntry; certs: CertificateDetails[] }) {
  const warn = certs.filter((c) => c.state === 'expired' || c.state === 'expiring');
  return (
    <section aria-labelledby="dir-entry-h" class="trace">
      <h2 id="dir-entry-h" tabIndex={-1} class="display-name">
        {first(entry, 'displayName') || entry.uid}
      </h2>
      {warn.length > 0 && (
        <p role="alert" class="warning">
          {`${warn.length} certificate(s) of this entry expired or expire within ${WARN_DAYS} days: senders can no longer encrypt for it once all have.`}
        </p>
      )}
      <dl class="facts">
        <div>
          <dt>DN</dt>
          <dd>{entry.dn}</dd>
        </div>
        {Object.entries(entry.attributes).map(([k, v]) => (
          <div key={k}>
            <dt>{k}</dt>
            <dd>{v.join(', ')}</dd>
          </div>
        ))}
      </dl>
      <table>
        <caption>{`${certs.length} certificate(s)`}</caption>
        <thead>
          <tr>
            <th scope="col">Key</th>
            <th scope="col">Subject</th>
            <th scope="col">Issuer</th>
            <th scope="col">Serial</th>
            <th scope="col">Valid</th>
            <th scope="col">Usage</th>
            <th scope="col">State</th>
          </tr>
        </thead>
        <tbody>
          {certs.map((c) => (
            <tr key={c.sha256} data-cert={c.kind}>
              <th scope="row" data-kind>
                {c.kind === 'ECC' ? `ECC ${c.curve ?? ''}`.trim() : c.kind === 'RSA' ? `RSA ${c.keyBits ?? ''}`.trim() : 'unknown'}
              </th>
              <td class="wrap">{c.subject}</td>
              <td class="wrap">{c.issuer}</td>
              <td class="wrap">{c.serialNumber}</td>
              <td>{`${day(c.notBefore)} – ${day(c.notAfter)}`}</td>
              <td class="wrap">{[...c.keyUsage, ...c.extendedKeyUsage].join(', ') || '–'}</td>
              <td data-state={c.state}>{c.state === 'valid' ? stateText(c) : <span class="warning">{stateText(c)}</span>}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
