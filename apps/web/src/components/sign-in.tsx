import { useState, type FormEvent } from 'react';
import { ApiError, whoami } from '../api/client';
import type { Session } from '../session';

/** Paste a token (read scope); the tenant comes from the token, as everywhere in Firn. */
export function SignIn({ onSignedIn, notice }: { onSignedIn: (s: Session) => void; notice?: string }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);

  async function submit(e: FormEvent): Promise<void> {
    e.preventDefault();
    const t = token.trim().replace(/^Bearer\s+/i, '');
    if (!t) {
      setError('Paste an API token first.');
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const p = await whoami(t);
      if (!p.scopes.includes('read:profiles')) {
        setError(
          `This token of tenant "${p.tenant}" cannot read profiles (its scopes: ${p.scopes.join(', ') || 'none'}). Create one with the read:profiles scope: firn tokens create --tenant ${p.tenant} --scopes read:profiles`,
        );
        return;
      }
      onSignedIn({ ...p, token: t });
    } catch (err) {
      if (err instanceof ApiError && err.kind === 'auth')
        setError(`This token was rejected: ${err.message}. Check that it is complete, not revoked and not expired.`);
      else setError(err instanceof Error ? err.message : String(err));
    } finally {
      setBusy(false);
    }
  }

  return (
    <main className="signin">
      <form className="card" onSubmit={(e) => void submit(e)} aria-labelledby="signin-title">
        <h1 id="signin-title">Sign in to Firn</h1>
        <p className="muted">
          Paste an API token with the <code>read:profiles</code> scope. It is kept in this browser tab only (session storage) and sent only to this server.{' '}
          <code>npm start</code> prints one and keeps it in <code>.firn/data/default-token</code>.
        </p>
        {notice && (
          <p className="notice" role="status">
            {notice}
          </p>
        )}
        <label htmlFor="token">API token</label>
        <input
          id="token"
          name="token"
          type="password"
          autoComplete="off"
          spellCheck={false}
          value={token}
          onChange={(e) => setToken(e.target.value)}
          placeholder="firn_…"
          autoFocus
        />
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
        <button type="submit" className="primary" disabled={busy}>
          {busy ? 'Checking…' : 'Sign in'}
        </button>
      </form>
    </main>
  );
}
