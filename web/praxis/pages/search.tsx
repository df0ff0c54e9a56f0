import { useRef, useState } from 'preact/hooks';
import { searchDirectory, type DirectoryEntry, type DirectoryQuery } from '../api.js';
import { useT } from '../i18n/index.js';
import { hasRecipient, withRecipient, type Draft } from '../draft.js';

const FIELDS = ['q', 'name', 'place', 'telematikId'] as const;


/** The directory search (VZD over LDAP, via the back end); a hit's address goes into the draft's To. */
export function Search(props: { draft: Draft; setDraft(d: Draft): void }) {
  const t = useT();
  const [query, setQuery] = useState<DirectoryQuery>({});
  const [result, setResult] = useState<{ entries: DirectoryEntry[]; truncated: boolean } | undefined>();
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [notice, setNotice] = useState('');
  // The address whose button was just used: what replaces the button takes the focus, once.
  const focusNext = useRef('');
  const focusOnce = (mail: string) => (el: HTMLElement | null) => {
    if (el && focusNext.current === mail) {
      focusNext.current = '';
      el.focus();
    }
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setError('');
    setNotice('');
    if (!Object.values(query).some((v) => v && v.trim())) {
      setError(t.search.needOne);
      return;
    }
    setBusy(true);
    try {
      setResult(await searchDirectory(query));
    } catch (err) {
      setResult(undefined);
      setError(t.error((err as Error).message));
    } finally {
      setBusy(false);
    }
  };
  const add = (mail: string) => {
    props.setDraft(withRecipient(props.draft, mail));
    focusNext.current = mail;
    setNotice(t.search.added(mail));
  };

  return (
    <>
      <h1>{t.search.title}</h1>
      <p class="hint">{t.search.intro}</p>
      <form role="search" class="search" onSubmit={submit} aria-label={t.search.title}>
        {FIELDS.map((f) => (
          <div key={f} class={f === 'q' ? 'field wide' : 'field'}>
            <label for={`search-${f}`}>{t.search[f]}</label>
            <input id={`search-${f}`} name={f} type="text" maxLength={128} value={query[f] ?? ''} onInput={(e) => setQuery({ ...query, [f]: e.currentTarget.value })} />
          </div>
        ))}
        <div class="field">
          <label for="search-profession">{t.search.profession}</label>
          <select id="search-profession" name="profession" value={query.profession ?? ''} onChange={(e) => setQuery({ ...query, profession: e.currentTarget.value })}>
            <option value="">{t.search.anyProfession}</option>
            {Object.entries(t.professions).map(([oid, name]) => (
              <option key={oid} value={oid}>
                {name}
              </option>
            ))}
          </select>
        </div>
        <div class="field end">
          <button type="submit" disabled={busy}>
            {busy ? t.search.busy : t.search.submit}
          </button>
        </div>
      </form>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      <p role="status" class={notice ? 'notice' : 'visually-hidden'}>
        {notice}
        {notice && (
          <>
            {' '}
            <a href="#/compose">{t.search.toCompose}</a>
          </>
        )}
      </p>
      {result && (
        <section aria-labelledby="results-heading">
          <h2 id="results-heading">{t.search.resultsHeading}</h2>
          <p aria-live="polite">{result.entries.length === 0 ? t.search.none : t.search.results(result.entries.length)}</p>
          {result.truncated && <p class="hint">{t.search.truncated}</p>}
          <ul class="hits">
            {result.entries.map((h) => (
              <li key={h.telematikId + h.mail.join()} class="hit">
                <div class="hit-main">
                  <span class="hit-name">{h.displayName}</span>
                  <span class="hint">
                    {[h.place, ...h.professionOID.map((o) => t.professions[o] ?? o), ...h.specialization].filter(Boolean).join(' · ')}
                  </span>
                  <span class="hint">
                    {t.search.telematikId}: <span class="mono">{h.telematikId || '–'}</span>
                    {h.kimVersions.length > 0 && (
                      <>
                        {' · '}
                        {t.search.kimVersions}: {h.kimVersions.join(', ')}
                      </>
                    )}
                  </span>
                </div>
                <ul class="hit-mails">
                  {h.mail.length === 0 && <li class="hint">{t.search.noMail}</li>}
                  {h.mail.map((mail) => (
                    <li key={mail}>
                      <span class="mono">{mail}</span>{' '}
                      {hasRecipient(props.draft, mail) ? (
                        <span class="ok" tabIndex={-1} ref={focusOnce(mail)}>
                          ✓ {t.search.inDraft}
                        </span>
                      ) : (
                        <button type="button" class="secondary small" aria-label={t.search.addLabel(mail)} onClick={() => add(mail)}>
                          {t.search.add}
                        </button>
                      )}
                    </li>
                  ))}
                </ul>
              </li>
            ))}
          </ul>
        </section>
      )}
    </>
  );
}
