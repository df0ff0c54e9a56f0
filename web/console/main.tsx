import { render } from 'preact';
import { useEffect, useState } from 'preact/hooks';
import { logout, session, whenSignedOut } from './api.js';
import { Login } from './pages/login.js';
import { Overview } from './pages/overview.js';
import { Accounts } from './pages/accounts.js';
import { Queue } from './pages/queue.js';
import { Trace } from './pages/trace.js';
import { Directory } from './pages/directory.js';
import { Mailin } from './pages/mailin.js';
import { ClientModule } from './pages/clientmodule.js';
import './console.css';

const PAGES = [
  { hash: '#/overview', title: 'Overview', view: () => <Overview /> },
  { hash: '#/accounts', title: 'Accounts and domains', view: () => <Accounts /> },
  { hash: '#/queue', title: 'Relay queue', view: () => <Queue /> },
  { hash: '#/trace', title: 'Message trace', view: () => <Trace /> },
  { hash: '#/directory', title: 'Directory', view: () => <Directory /> },
  { hash: '#/mailin', title: 'Mail-in', view: () => <Mailin /> },
  { hash: '#/clientmodule', title: 'Client module', view: () => <ClientModule /> },
] as const;

function currentPage() {
  return PAGES.find((p) => p.hash === location.hash) ?? PAGES[0];
}

function App() {
  const [state, setState] = useState<'checking' | 'out' | 'in'>('checking');
  const [page, setPage] = useState(currentPage());
  useEffect(() => {
    whenSignedOut(() => setState('out'));
    void session().then((ok) => setState(ok ? 'in' : 'out'));
    const onHash = () => setPage(currentPage());
    addEventListener('hashchange', onHash);
    return () => removeEventListener('hashchange', onHash);
  }, []);
  useEffect(() => {
    document.title = state === 'in' ? `${page.title} · Postamt console` : 'Sign in · Postamt console';
    if (state === 'in') document.getElementById('main')?.focus();
  }, [page, state]);

  if (state === 'checking') return <p class="loading">Loading…</p>;
  if (state === 'out') return <Login onSignedIn={() => setState('in')} />;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="top">
        <span class="brand">Postamt console</span>
        <nav aria-label="Main">
          <ul>
            {PAGES.map((p) => (
              <li key={p.hash}>
                <a href={p.hash} aria-current={p === page ? 'page' : undefined}>
                  {p.title}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        <button type="button" class="secondary" onClick={() => void logout().then(() => setState('out'))}>
          Sign out
        </button>
      </header>
      <main id="main" tabIndex={-1}>
        <h1>{page.title}</h1>
        {page.view()}
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
