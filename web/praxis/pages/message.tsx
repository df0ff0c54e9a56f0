import { useEffect, useState } from 'preact/hooks';
import { ApiError, attachmentUrl, deleteMessage, openMessage, type OpenedMessage } from '../api.js';
import { useT } from '../i18n/index.js';
import { FailureTag, KimBadge, formatDate } from './kim-badge.js';

/** One message: its header, its text (as text: it is plain text and rendered so), attachments, delete. */
export function MessageView(props: { uid: string; onDeleted(): void }) {
  const t = useT();
  const [m, setM] = useState<OpenedMessage | undefined>();
  const [error, setError] = useState('');
  const [confirming, setConfirming] = useState(false);
  const [busy, setBusy] = useState(false);

  useEffect(() => {
    let live = true;
    setM(undefined);
    setError('');
    openMessage(props.uid)
      .then((x) => live && setM(x))
      .catch((err: Error) => live && setError(err instanceof ApiError && err.status === 404 ? t.message.notFound : t.error(err.message)));
    return () => {
      live = false;
    };
  }, [props.uid]);

  const remove = async () => {
    setBusy(true);
    try {
      await deleteMessage(props.uid);
      props.onDeleted();
    } catch (err) {
      setError(t.error((err as Error).message));
      setConfirming(false);
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <p>
        <a href="#/inbox">← {t.message.back}</a>
      </p>
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {!m && !error && <p class="loading">{t.loading}</p>}
      {m && (
        <article class="message" aria-labelledby="message-subject">
          <h1 id="message-subject" class="subject-heading">
            {m.subject || t.inbox.noSubject}
          </h1>
          {m.kim.failureMessage && (
            <div class="failure-box" role="note">
              <FailureTag /> <span>{t.kim.failureMessageHint}</span>
            </div>
          )}
          <dl class="header-fields">
            <dt>{t.message.from}</dt>
            <dd class="from">{m.from}</dd>
            <dt>{t.message.to}</dt>
            <dd>{m.to.join(', ') || '–'}</dd>
            {m.cc.length > 0 && (
              <>
                <dt>{t.message.cc}</dt>
                <dd>{m.cc.join(', ')}</dd>
              </>
            )}
            <dt>{t.message.date}</dt>
            <dd>{formatDate(m.date, t.locale)}</dd>
            <dt>{t.message.dienstkennung}</dt>
            <dd class="dk">{m.dienstkennung ?? '–'}</dd>
            <dt>{t.message.check}</dt>
            <dd>
              <KimBadge kim={m.kim} />
              <span class="codes">
                {' '}
                ({t.kim.codes}: {[...m.kim.decryption.map((c) => `DecryptionResult ${c}`), ...m.kim.integrity.map((c) => `IntegrityCheckResult ${c}`), ...m.kim.fehlermeldung.map((c) => `Fehlermeldung ${c}`)].join(', ') || '–'})
              </span>
            </dd>
            {m.messageId && (
              <>
                <dt>{t.message.messageId}</dt>
                <dd class="mono">{m.messageId}</dd>
              </>
            )}
          </dl>
          <h2>{t.message.text}</h2>
          <pre class="body" tabIndex={0} aria-label={t.message.text}>
            {m.text}
          </pre>
          <h2>{t.message.attachments}</h2>
          {m.attachments.length === 0 ? (
            <p>{t.message.noAttachments}</p>
          ) : (
            <ul class="attachments">
              {m.attachments.map((a) => (
                <li key={a.n}>
                  <a href={attachmentUrl(m.uid, a.n)} download={a.filename}>
                    {a.filename}
                  </a>{' '}
                  <span class="hint">
                    ({a.contentType}, {t.size(a.size)})
                  </span>
                </li>
              ))}
            </ul>
          )}
          <div class="buttons">
            {!confirming ? (
              <button type="button" class="danger" onClick={() => setConfirming(true)}>
                {t.message.delete}
              </button>
            ) : (
              <div role="group" aria-label={t.message.confirmDelete} class="confirm">
                <span>{t.message.confirmDelete}</span>
                <button type="button" class="danger" disabled={busy} onClick={() => void remove()}>
                  {t.message.confirmYes}
                </button>
                <button type="button" class="secondary" onClick={() => setConfirming(false)}>
                  {t.message.cancel}
                </button>
              </div>
            )}
          </div>
        </article>
      )}
    </>
  );
}
