import { useRef, useState } from 'preact/hooks';
import { sendMessage, type SendOutcome } from '../api.js';
import { useT } from '../i18n/index.js';
import { DIENSTKENNUNGEN, OTHER, addresses, type Draft } from '../draft.js';

/**
 * Writing a message: To/Cc, subject, text (plain text: KIM-Mail allows no HTML), the
 * Dienstkennung (X-KIM-Dienstkennung), attachments; the answer per recipient after sending.
 */
export function Compose(props: { draft: Draft; setDraft(d: Draft): void; onSent(): void }) {
  const t = useT();
  const d = props.draft;
  const set = (patch: Partial<Draft>) => props.setDraft({ ...d, ...patch });
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState('');
  const [outcome, setOutcome] = useState<SendOutcome | undefined>();
  const fileInput = useRef<HTMLInputElement>(null);

  const addFiles = (list: FileList | null) => {
    if (list && list.length) set({ files: [...d.files, ...Array.from(list)] });
    // The input is emptied so that the same file can be picked again after removing it.
    if (fileInput.current) fileInput.current.value = '';
  };

  const submit = async (e: Event) => {
    e.preventDefault();
    setError('');
    setOutcome(undefined);
    const to = addresses(d.to);
    if (to.length === 0) {
      setError(t.compose.needTo);
      document.getElementById('compose-to')?.focus();
      return;
    }
    setBusy(true);
    try {
      const dienstkennung = d.dienstkennung === OTHER ? d.dienstkennungFree.trim() : d.dienstkennung;
      const r = await sendMessage({ to, cc: addresses(d.cc), subject: d.subject, text: d.text, dienstkennung, files: d.files });
      setOutcome(r);
      if (r.ok) props.onSent();
    } catch (err) {
      setError(t.error((err as Error).message));
    } finally {
      setBusy(false);
    }
  };

  return (
    <>
      <h1>{t.compose.title}</h1>
      {/* Above the form, where the eye is after Senden; the regions announce themselves. */}
      {error && (
        <p role="alert" class="error">
          {error}
        </p>
      )}
      {outcome && <Outcome outcome={outcome} />}
      <form class="compose" onSubmit={submit} noValidate>
        <label for="compose-to">{t.compose.to}</label>
        <div>
          <input id="compose-to" name="to" type="text" autocomplete="off" aria-describedby="compose-addr-hint" value={d.to} onInput={(e) => set({ to: e.currentTarget.value })} />
          <p id="compose-addr-hint" class="hint">
            {t.compose.addressesHint}
          </p>
        </div>
        <label for="compose-cc">{t.compose.cc}</label>
        <input id="compose-cc" name="cc" type="text" autocomplete="off" aria-describedby="compose-addr-hint" value={d.cc} onInput={(e) => set({ cc: e.currentTarget.value })} />
        <label for="compose-subject">{t.compose.subject}</label>
        <input id="compose-subject" name="subject" type="text" maxLength={998} value={d.subject} onInput={(e) => set({ subject: e.currentTarget.value })} />
        <label for="compose-dk">{t.compose.dienstkennung}</label>
        <div class="dk-row">
          <select id="compose-dk" name="dienstkennung" value={d.dienstkennung} onChange={(e) => set({ dienstkennung: e.currentTarget.value })}>
            {DIENSTKENNUNGEN.map((k) => (
              <option key={k} value={k}>
                {k}
              </option>
            ))}
            <option value={OTHER}>{t.compose.dienstkennungOther}</option>
          </select>
          {d.dienstkennung === OTHER && (
            <>
              <label for="compose-dk-free" class="visually-hidden">
                {t.compose.dienstkennungFree}
              </label>
              <input id="compose-dk-free" name="dienstkennungFree" type="text" placeholder="eAU;Lieferung;V1.0" aria-describedby="compose-dk-hint" value={d.dienstkennungFree} onInput={(e) => set({ dienstkennungFree: e.currentTarget.value })} />
              <p id="compose-dk-hint" class="hint">
                {t.compose.dienstkennungHint}
              </p>
            </>
          )}
        </div>
        <label for="compose-text">{t.compose.text}</label>
        <textarea id="compose-text" name="text" rows={10} value={d.text} onInput={(e) => set({ text: e.currentTarget.value })} />
        <label for="compose-files">{t.compose.addFiles}</label>
        <div>
          <input id="compose-files" ref={fileInput} type="file" multiple onChange={(e) => addFiles(e.currentTarget.files)} />
          <h2 class="small">{t.compose.attachments}</h2>
          {d.files.length === 0 ? (
            <p class="hint">{t.compose.noFiles}</p>
          ) : (
            <ul class="files">
              {d.files.map((f, i) => (
                <li key={`${i}-${f.name}`}>
                  <span class="filename">{f.name}</span> <span class="hint">({t.size(f.size)})</span>{' '}
                  <button type="button" class="secondary small" aria-label={t.compose.remove(f.name)} onClick={() => set({ files: d.files.filter((_, j) => j !== i) })}>
                    {t.compose.removeShort}
                  </button>
                </li>
              ))}
            </ul>
          )}
        </div>
        <div class="buttons span2">
          <button type="submit" disabled={busy}>
            {busy ? t.compose.busy : t.compose.send}
          </button>
        </div>
      </form>
    </>
  );
}

function Outcome(props: { outcome: SendOutcome }) {
  const t = useT();
  const o = props.outcome;
  return (
    <section class="outcome" aria-labelledby="outcome-heading">
      <p id="outcome-heading" role={o.ok ? 'status' : 'alert'} class={o.ok ? 'notice' : 'error'}>
        {o.ok ? t.compose.sent : t.compose.partly}
      </p>
      <table>
        <caption>{t.compose.resultCaption}</caption>
        <thead>
          <tr>
            <th scope="col">{t.compose.recipient}</th>
            <th scope="col">{t.compose.result}</th>
            <th scope="col">{t.compose.reply}</th>
          </tr>
        </thead>
        <tbody>
          {o.recipients.map((r) => (
            <tr key={r.address} data-accepted={String(r.accepted)}>
              <th scope="row" class="wrap">
                {r.address}
              </th>
              <td class={r.accepted ? 'ok' : 'bad'}>{r.accepted ? t.compose.accepted : t.compose.refused}</td>
              <td class="wrap">
                {r.code} {r.text}
                {r.kimCode && <> ({t.compose.kimCode(r.kimCode)})</>}
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </section>
  );
}
