import type { KimResult } from '../api.js';
import { useLang, useT } from '../i18n/index.js';

/** The X-KIM result in words (text_de/text_en from the API) with its status; colour is never the only sign. */
export function KimBadge(props: { kim: KimResult }) {
  const t = useT();
  const lang = useLang();
  const k = props.kim;
  return (
    <span class={`badge badge-${k.status}`} data-kim-status={k.status}>
      <span class="badge-status">{t.kim.status[k.status]}:</span> {lang === 'de' ? k.text_de : k.text_en}
    </span>
  );
}

/** Marks the client module's own failure message (X-KIM-Fehlermeldung, or a message it could not decrypt). */
export function FailureTag() {
  const t = useT();
  return <span class="tag-failure">{t.kim.failureMessage}</span>;
}

export function formatDate(date: string | null, locale: string): string {
  if (!date) return '–';
  const d = new Date(date);
  return Number.isNaN(d.getTime()) ? date : new Intl.DateTimeFormat(locale, { dateStyle: 'medium', timeStyle: 'short' }).format(d);
}
