import { useEffect, useState } from 'preact/hooks';
import { listInbox, type InboxPage } from '../api.js';
import { useT } from '../i18n/index.js';
import { messageHash } from '../route.js';
import { FailureTag, KimBadge, formatDate } from './kim-badge.js';

/** The inbox, newest first, a page at a time (the server's inboxPageSize). */
export function Inbox(props: { flash: string; clearFlash(): void }) {
  const t = useT();
  const [page, setPage] = useState(1);
  const [data, setData] = useState<InboxPage | undefined>();
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const [tick, setTick] = useState(0);

  useEffect(() => {
    let live = true;
    setBusy(true);
    setError('');
    listInbox(page)
      .then((d) => live && setData(d))
      .catch((err: Error) => live && setError(t.error(err.message)))
      .finally(() => live && setBusy(false));
    return () => {
      live = false;
    };
    // t is left out: a language switch must not fetch again.
  }, [page, tick]);
  // A notice from the page before (e.g. "deleted") is shown once.
  useEffect(() => () => props.clearFlash(), []);

  const pages = data ? Math.max(1, Math.ceil(data.total / data.pageSize)) : 1;
  return (
    <>
      <div class="title-row">
        <h1>{t.inbox.title}</h1>
        <button type="button" class="secondary" disabled={busy} onClick={() => setTick(tick + 1)}>
          {t.inbox.refresh}
        </button>
      </div>
      {props.flash && (
        <p role="status" class="notice">
          {props.flash}
        </p>
      )}
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {!data && !error && <p class="loading">{t.loading}</p>}
      {data && (
        <>
          <p class="hint" aria-live="polite">
            {t.inbox.count(data.total, data.page, pages)}
          </p>
          {data.messages.length === 0 ? (
            <p>{t.inbox.empty}</p>
          ) : (
            <ol class="messages" aria-label={t.inbox.listLabel} aria-busy={busy}>
              {data.messages.map((m) => (
                <li key={m.uid} class={m.kim.failureMessage ? 'failure' : undefined}>
                  <a class="subject" href={messageHash(m.uid)}>
                    {m.subject || t.inbox.noSubject}
                  </a>
                  <dl class="meta">
                    <div>
                      <dt>{t.inbox.from}</dt>
                      <dd class="from">{m.from}</dd>
                    </div>
                    <div>
                      <dt>{t.inbox.date}</dt>
                      <dd>{formatDate(m.date, t.locale)}</dd>
                    </div>
                    <div>
                      <dt>{t.inbox.dienstkennung}</dt>
                      <dd class="dk">{m.dienstkennung ?? '–'}</dd>
                    </div>
                    <div>
                      <dt>{t.inbox.check}</dt>
                      <dd>
                        {m.kim.failureMessage && <FailureTag />} <KimBadge kim={m.kim} />
                      </dd>
                    </div>
                  </dl>
                </li>
              ))}
            </ol>
          )}
          {pages > 1 && (
            <nav class="pager" aria-label={t.inbox.pager}>
              <button type="button" class="secondary" disabled={page <= 1 || busy} onClick={() => setPage(page - 1)}>
                {t.inbox.previous}
              </button>
              <button type="button" class="secondary" disabled={page >= pages || busy} onClick={() => setPage(page + 1)}>
                {t.inbox.next}
              </button>
            </nav>
          )}
        </>
      )}
    </>
  );
}
