import { useLang, useT } from '../i18n/index.js';
import type { Route } from '../route.js';

const NAV = [
  { page: 'inbox', hash: '#/inbox' },
  { page: 'compose', hash: '#/compose' },
  { page: 'search', hash: '#/search' },
] as const;

/** The banner: the app's name, its pages (when signed in), the language toggle, sign-out. */
export function Header(props: { user: string | null; route: Route; onToggleLang(): void; onSignOut(): void }) {
  const t = useT();
  const lang = useLang();
  const current = props.route.page === 'message' ? 'inbox' : props.route.page;
  return (
    <>
      <a class="skip" href="#main">
        {t.skip}
      </a>
      <header class="top">
        <span class="brand">{t.appName}</span>
        {props.user && (
          <nav aria-label={t.nav.label}>
            <ul>
              {NAV.map((n) => (
                <li key={n.page}>
                  <a href={n.hash} aria-current={n.page === current ? 'page' : undefined}>
                    {t.nav[n.page]}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
        )}
        <div class="tools">
          {props.user && <span class="who">{t.signedInAs(props.user)}</span>}
          <button type="button" class="secondary" lang={lang === 'de' ? 'en' : 'de'} aria-label={t.otherLanguageLabel} onClick={props.onToggleLang}>
            {t.otherLanguage}
          </button>
          {props.user && (
            <button type="button" class="secondary" onClick={props.onSignOut}>
              {t.signOut}
            </button>
          )}
        </div>
      </header>
    </>
  );
}
