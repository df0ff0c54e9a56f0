import { useState } from 'preact/hooks';
import { ApiError, login } from '../api.js';
import { useT } from '../i18n/index.js';

/** Sign-in with the practice's KIM address and password (checked by a POP3 login at the client module). */
export function Login(props: { note: 'signedOut' | 'sessionEnded' | ''; onSignedIn(user: string): void }) {
  const t = useT();
  const [user, setUser] = useState('');
  const [password, setPassword] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError('');
    try {
      const s = await login(user.trim(), password);
      setPassword('');
      props.onSignedIn(s.user);
    } catch (err) {
      const status = err instanceof ApiError ? err.status : 0;
      setError(status === 401 ? t.login.wrong : status === 429 ? t.login.throttled : status === 503 ? t.login.unavailable : t.error((err as Error).message));
    } finally {
      setBusy(false);
    }
  };
  return (
    <main id="main" class="login" tabIndex={-1}>
      <h1>{t.login.title}</h1>
      {props.note && (
        <p role="status" class="notice">
          {props.note === 'signedOut' ? t.signedOut : t.sessionEnded}
        </p>
      )}
      <form onSubmit={submit}>
        <label for="login-user">{t.login.address}</label>
        <input id="login-user" name="user" type="email" autocomplete="username" required value={user} onInput={(e) => setUser(e.currentTarget.value)} />
        <label for="login-password">{t.login.password}</label>
        <input id="login-password" name="password" type="password" autocomplete="current-password" required value={password} onInput={(e) => setPassword(e.currentTarget.value)} />
        <p class="hint">{t.login.hint}</p>
        <button type="submit" disabled={busy}>
          {busy ? t.login.busy : t.login.submit}
        </button>
        {error && (
          <p role="alert" class="error">
            {error}
          </p>
        )}
      </form>
    </main>
  );
}
