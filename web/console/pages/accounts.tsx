import { useState } from 'preact/hooks';
import { call, type Account, type Domain, type KimRegistration } from '../api.js';
import { usePoll } from './use-poll.js';

const MB = 1024 * 1024;
const mb = (b: number) => (b === 0 ? 'none' : `${Math.round((b / MB) * 10) / 10} MB`);
const day = (iso: string) => iso.slice(0, 10);

/** The registration in words; a pending deregistration with the day it takes effect. */
function registrationText(r: KimRegistration): string {
  switch (r.state) {
    case 'created':
      return 'not registered yet';
    case 'registered':
      return 'registered';
    case 'deregistration-pending':
      return `deregistration pending, deleted after ${day(r.deregDate ?? '')}`;
    case 'deleted':
      return `deleted (past ${day(r.deregDate ?? '')})`;
  }
}
const registrationClass = (r: KimRegistration) => (r.state === 'registered' ? 'ok' : r.state === 'created' ? '' : 'bad');

function useAction(after: () => void) {
  const [message, setMessage] = useState<{ ok: boolean; text: string } | null>(null);
  const run = async (what: string, f: () => Promise<unknown>) => {
    try {
      await f();
      setMessage({ ok: true, text: what });
      after();
      return true;
    } catch (e) {
      setMessage({ ok: false, text: (e as Error).message });
      return false;
    }
  };
  const view = message && (
    <p role={message.ok ? 'status' : 'alert'} class={message.ok ? 'notice' : 'error'}>
      {message.text}
    </p>
  );
  return { run, view };
}

export function Accounts() {
  const [q, setQ] = useState('');
  const domains = usePoll(() => call<Domain[]>('GET', '/api/domains'), 0);
  const accounts = usePoll(() => call<Account[]>('GET', `/api/accounts${q ? `?q=${encodeURIComponent(q)}` : ''}`), 0, [q]);
  const action = useAction(() => {
    domains.reload();
    accounts.reload();
  });
  const [editing, setEditing] = useState<string | null>(null);

  return (
    <>
      {action.view}
      <section aria-labelledby="domains-h">
        <h2 id="domains-h">Domains</h2>
        <p>{domains.data ? domains.data.map((d) => d.name).join(', ') || 'No local domain yet.' : 'Loading…'}</p>
        <AddDomain onAdd={(name) => action.run(`Domain ${name} added.`, () => call('POST', '/api/domains', { name }))} />
      </section>
      <section aria-labelledby="accounts-h">
        <h2 id="accounts-h">Accounts</h2>
        <div role="search">
          <label for="account-search">Search accounts</label>
          <input id="account-search" type="search" value={q} placeholder="address or name" onInput={(e) => setQ(e.currentTarget.value)} />
        </div>
        {accounts.error && <p role="alert" class="error">{accounts.error}</p>}
        <table>
          <caption>{accounts.data ? `${accounts.data.length} account(s)` : 'Loading…'}</caption>
          <thead>
            <tr>
              <th scope="col">Address</th>
              <th scope="col">Display name</th>
              <th scope="col">Telematik-ID</th>
              <th scope="col">Used / quota</th>
              <th scope="col">KIM registration</th>
              <th scope="col">Kept / max. mail</th>
              <th scope="col">State</th>
              <th scope="col">Actions</th>
            </tr>
          </thead>
          <tbody>
            {(accounts.data ?? []).map((a) => (
              <tr key={a.address}>
                <th scope="row">{a.address}</th>
                <td class="display-name">{a.displayName}</td>
                <td>{a.telematikId ?? '–'}</td>
                <td>{`${mb(a.usedBytes)} / ${mb(a.quotaBytes)}`}</td>
                <td class={registrationClass(a.registration)} data-registration={a.registration.state}>
                  {registrationText(a.registration)}
                </td>
                <td data-limits>{`${a.limits.dataTimeToLive} days / ${mb(a.limits.maxMailSize)}`}</td>
                <td class={a.disabled ? 'bad' : 'ok'}>{a.disabled ? 'disabled' : 'active'}</td>
                <td class="actions">
                  <button type="button" class="secondary" aria-label={`Change ${a.address}`} onClick={() => setEditing(editing === a.address ? null : a.address)}>
                    Change
                  </button>
                  <button
                    type="button"
                    class="secondary"
                    aria-label={`${a.disabled ? 'Enable' : 'Disable'} ${a.address}`}
                    onClick={() => void action.run(`${a.address} ${a.disabled ? 'enabled' : 'disabled'}.`, () => call('PATCH', `/api/accounts/${encodeURIComponent(a.address)}`, { disabled: !a.disabled }))}
                  >
                    {a.disabled ? 'Enable' : 'Disable'}
                  </button>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        {editing && accounts.data?.find((a) => a.address === editing) && (
          <ChangeAccount
            account={accounts.data.find((a) => a.address === editing)!}
            onCancel={() => setEditing(null)}
            onSave={async (change) => {
              if (await action.run(`${editing} changed.`, () => call('PATCH', `/api/accounts/${encodeURIComponent(editing)}`, change))) setEditing(null);
            }}
          />
        )}
        <AddAccount domains={domains.data ?? []} onAdd={(input) => action.run(`Account ${input.address} added.`, () => call('POST', '/api/accounts', input))} />
      </section>
    </>
  );
}

function AddDomain(props: { onAdd(name: string): Promise<boolean> }) {
  const [name, setName] = useState('');
  return (
    <form
      class="inline"
      aria-label="Add a domain"
      onSubmit={async (e) => {
        e.preventDefault();
        if (await props.onAdd(name.trim())) setName('');
      }}
    >
      <label for="domain-name">New domain</label>
      <input id="domain-name" required value={name} onInput={(e) => setName(e.currentTarget.value)} />
      <button type="submit">Add domain</button>
    </form>
  );
}

function AddAccount(props: { domains: Domain[]; onAdd(input: Record<string, unknown>): Promise<boolean> }) {
  const empty = { address: '', displayName: '', telematikId: '', password: '', quotaMb: '0' };
  const [f, setF] = useState(empty);
  const field = (k: keyof typeof empty) => ({ value: f[k], onInput: (e: Event) => setF({ ...f, [k]: (e.currentTarget as HTMLInputElement).value }) });
  return (
    <form
      class="grid"
      aria-labelledby="add-account-h"
      onSubmit={async (e) => {
        e.preventDefault();
        const input: Record<string, unknown> = { address: f.address.trim(), password: f.password, displayName: f.displayName, quotaBytes: Math.round(Number(f.quotaMb) * MB) };
        if (f.telematikId.trim()) input.telematikId = f.telematikId.trim();
        if (await props.onAdd(input)) setF(empty);
      }}
    >
      <h3 id="add-account-h">Add an account</h3>
      <label for="new-address">Address</label>
      <input id="new-address" type="email" required placeholder={props.domains[0] ? `name@${props.domains[0].name}` : 'name@domain'} {...field('address')} />
      <label for="new-display-name">Display name</label>
      <input id="new-display-name" {...field('displayName')} />
      <label for="new-telematik-id">Telematik-ID (optional)</label>
      <input id="new-telematik-id" {...field('telematikId')} />
      <label for="new-password">Password (at least 8 characters)</label>
      <input id="new-password" type="password" autocomplete="new-password" required minLength={8} {...field('password')} />
      <label for="new-quota">Quota in MB (0: none)</label>
      <input id="new-quota" type="number" min="0" step="1" {...field('quotaMb')} />
      <button type="submit">Add account</button>
    </form>
  );
}

function ChangeAccount(props: { account: Account; onCancel(): void; onSave(change: Record<string, unknown>): Promise<void> }) {
  const a = props.account;
  const [displayName, setDisplayName] = useState(a.displayName);
  const [quotaMb, setQuotaMb] = useState(String(a.quotaBytes / MB));
  const [password, setPassword] = useState('');
  // Empty: the account follows service.kim.defaults (sent as null).
  const [ttl, setTtl] = useState(a.dataTimeToLive === null ? '' : String(a.dataTimeToLive));
  const [maxMb, setMaxMb] = useState(a.maxMailSize === null ? '' : String(a.maxMailSize / MB));
  const r = a.registration;
  return (
    <form
      class="grid"
      aria-labelledby="change-h"
      onSubmit={(e) => {
        e.preventDefault();
        const change: Record<string, unknown> = {};
        if (displayName !== a.displayName) change.displayName = displayName;
        const q = Math.round(Number(quotaMb) * MB);
        if (q !== a.quotaBytes) change.quotaBytes = q;
        if (password) change.password = password;
        const ownTtl = ttl.trim() === '' ? null : Number(ttl);
        if (ownTtl !== a.dataTimeToLive) change.dataTimeToLive = ownTtl;
        const ownMax = maxMb.trim() === '' ? null : Math.round(Number(maxMb) * MB);
        if (ownMax !== a.maxMailSize) change.maxMailSize = ownMax;
        if (Object.keys(change).length === 0) return props.onCancel();
        void props.onSave(change);
      }}
    >
      <h3 id="change-h">Change {a.address}</h3>
      <label for="edit-display-name">Display name</label>
      <input id="edit-display-name" value={displayName} onInput={(e) => setDisplayName(e.currentTarget.value)} />
      <label for="edit-quota">Quota in MB (0: none)</label>
      <input id="edit-quota" type="number" min="0" step="1" value={quotaMb} onInput={(e) => setQuotaMb(e.currentTarget.value)} />
      <label for="edit-password">New password (empty: unchanged)</label>
      <input id="edit-password" type="password" autocomplete="new-password" minLength={8} value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
      <h4 id="kim-h">KIM</h4>
      <dl class="facts kim" aria-labelledby="kim-h">
        <div>
          <dt>Registration</dt>
          <dd data-registration-detail>{registrationText(r)}</dd>
        </div>
        <div>
          <dt>KIM version / referenceID</dt>
          <dd>{`${r.kimVersion ?? '–'} / ${r.referenceID ?? '–'}`}</dd>
        </div>
        <div>
          <dt>Last change by the Account Manager</dt>
          <dd>{r.changedAt ?? 'none yet'}</dd>
        </div>
        <div>
          <dt>getLimits answers</dt>
          <dd>{`${a.limits.dataTimeToLive} days, ${a.limits.maxMailSize} bytes, quota ${a.limits.quota === -1 ? 'none' : `${a.limits.quota} bytes`}, used ${a.limits.used} bytes`}</dd>
        </div>
      </dl>
      <label for="edit-ttl">Keep messages (dataTimeToLive), days 10–365</label>
      <input id="edit-ttl" type="number" min="10" max="365" step="1" aria-describedby="edit-ttl-hint" value={ttl} onInput={(e) => setTtl(e.currentTarget.value)} />
      <p id="edit-ttl-hint" class="hint grid-note">
        Empty: the service's default{a.dataTimeToLive === null ? ` (${a.limits.dataTimeToLive} days)` : ''}.
      </p>
      <label for="edit-max-mail">Largest client mail (maxMailSize), MiB, at least 700</label>
      <input id="edit-max-mail" type="number" min="700" step="any" aria-describedby="edit-max-mail-hint" value={maxMb} onInput={(e) => setMaxMb(e.currentTarget.value)} />
      <p id="edit-max-mail-hint" class="hint grid-note">
        Empty: the service's default{a.maxMailSize === null ? ` (${a.limits.maxMailSize / MB} MiB)` : ''}.
      </p>
      <div class="buttons">
        <button type="submit">Save</button>
        <button type="button" class="secondary" onClick={props.onCancel}>
          Cancel
        </button>
      </div>
    </form>
  );
}
