import { render } from 'preact';
import { useEffect, useLayoutEffect, useMemo, useState } from 'preact/hooks';
import { logout, session, whenSignedOut } from './api.js';
import { DICTS, LangContext, applyLang, storedLang, type Lang } from './i18n/index.js';
import { emptyDraft, type Draft } from './draft.js';
import { currentRoute, type Route } from './route.js';
import { Header } from './pages/header.js';
import { Login } from './pages/login.js';
import { Inbox } from './pages/inbox.js';
import { MessageView } from './pages/message.js';
import { Compose } from './pages/compose.js';
import { Search } from './pages/search.js';
import './praxis.css';

function App() {
  const [lang, setLang] = useState<Lang>(storedLang());
  const t = DICTS[lang];
  const [user, setUser] = useState<string | null | undefined>(undefined);
  const [route, setRoute] = useState<Route>(currentRoute());
  const [draft, setDraft] = useState<Draft>(emptyDraft());
  const [flash, setFlash] = useState('');
  const [loginNote, setLoginNote] = useState<'signedOut' | 'sessionEnded' | ''>('');

  useEffect(() => {
    whenSignedOut(() => {
      setUser(null);
      setLoginNote('sessionEnded');
    });
    void session().then((s) => setUser(s ? s.user : null));
    const onHash = () => setRoute(currentRoute());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  // Before the browser paints: <html lang> never disagrees with the words on screen.
  useLayoutEffect(() => applyLang(lang), [lang]);

  const title = user ? (route.page === 'message' ? t.inbox.title : t.nav[route.page]) : t.login.title;
  useEffect(() => {
    document.title = `${title} · ${t.appName}`;
  }, [title, t]);
  // After a page change the focus goes to the page (its heading is read first), not to the top.
  useEffect(() => {
    if (user) document.getElementById('main')?.focus();
  }, [route, user]);

  const ctx = useMemo(() => ({ lang, t }), [lang, t]);
  const toggleLang = () => setLang(lang === 'de' ? 'en' : 'de');

  let body;
  if (user === undefined) body = <p class="loading">{t.loading}</p>;
  else if (user === null)
    body = (
      <Login
        note={loginNote}
        onSignedIn={(u) => {
          setLoginNote('');
          setUser(u);
        }}
      />
    );
  else
    body = (
      <main id="main" tabIndex={-1}>
        {route.page === 'inbox' && <Inbox flash={flash} clearFlash={() => setFlash('')} />}
        {route.page === 'message' && (
          <MessageView
            uid={route.uid}
            onDeleted={() => {
              setFlash(t.inbox.deleted);
              location.hash = '#/inbox';
            }}
          />
        )}
        {route.page === 'compose' && <Compose draft={draft} setDraft={setDraft} onSent={() => setDraft(emptyDraft())} />}
        {route.page === 'search' && <Search draft={draft} setDraft={setDraft} />}
      </main>
    );

  return (
    <LangContext.Provider value={ctx}>
      <Header
        user={user ?? null}
        route={route}
        onToggleLang={toggleLang}
        onSignOut={() =>
          void logout().finally(() => {
            setUser(null);
            setDraft(emptyDraft());
            setLoginNote('signedOut');
          })
        }
      />
      {body}
    </LangContext.Provider>
  );
}

render(<App />, document.getElementById('app')!);
