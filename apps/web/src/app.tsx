import { Suspense, lazy, useCallback, useEffect, useMemo, useState } from 'react';
import { Api, ApiError, whoami } from './api/client';
import { SignIn } from './components/sign-in';
import { Ctx } from './hooks';
import { formatState, parseState, type ViewState } from './model/url-state';
import { loadSession, saveSession, takeTokenFromFragment, type Session } from './session';

const ExploreView = lazy(() => import('./views/explore'));
const CompareView = lazy(() => import('./views/compare'));

function useTheme(): [boolean, () => void] {
  const initial = (): boolean => {
    const saved = localStorage.getItem('firn.theme');
    return saved ? saved === 'dark' : (window.matchMedia?.('(prefers-color-scheme: dark)').matches ?? false);
  };
  const [dark, setDark] = useState(initial);
  useEffect(() => {
    document.documentElement.dataset.theme = dark ? 'dark' : 'light';
  }, [dark]);
  const toggle = useCallback(() => {
    setDark((d) => {
      localStorage.setItem('firn.theme', d ? 'light' : 'dark');
      return !d;
    });
  }, []);
  return [dark, toggle];
}

/** The view state lives in the address bar: pushState on user actions, replaceState for refinements. */
function useViewState(): [ViewState, (s: ViewState, push?: boolean) => void] {
  const read = (): ViewState => parseState(window.location.pathname, window.location.search);
  const [state, setState] = useState<ViewState>(read);
  useEffect(() => {
    const onPop = (): void => setState(read());
    window.addEventListener('popstate', onPop);
    return () => window.removeEventListener('popstate', onPop);
  }, []);
  const update = useCallback((s: ViewState, push = false) => {
    const url = formatState(s);
    if (url !== window.location.pathname + window.location.search) {
      if (push) history.pushState(null, '', url);
      else history.replaceState(null, '', url);
    }
    setState(s);
  }, []);
  return [state, update];
}

export function App() {
  const [dark, toggleTheme] = useTheme();
  const [session, setSession] = useState<Session | undefined>(loadSession);
  const [notice, setNotice] = useState<string>();
  const [fragmentToken] = useState(takeTokenFromFragment);
  const [state, setState] = useViewState();

  const signIn = useCallback((s: Session) => {
    saveSession(s);
    setNotice(undefined);
    setSession(s);
  }, []);
  const signOut = useCallback((message?: string) => {
    saveSession(undefined);
    setSession(undefined);
    setNotice(message);
  }, []);

  useEffect(() => {
    if (!fragmentToken) return;
    whoami(fragmentToken).then(
      (p) => signIn({ ...p, token: fragmentToken }),
      (err: unknown) => setNotice(err instanceof ApiError ? err.message : String(err)),
    );
  }, [fragmentToken, signIn]);

  useEffect(() => {
    if (session) void import('./api/flame-arrow'); // warm the decoder while the first query runs
  }, [session]);

  const api = useMemo(() => (session ? new Api(session.token) : undefined), [session]);
  const ctx = useMemo(() => (api ? { api, signOut, dark } : undefined), [api, signOut, dark]);

  if (!session || !ctx) {
    return (
      <>
        <Header dark={dark} toggleTheme={toggleTheme} />
        <SignIn onSignedIn={signIn} notice={notice} />
      </>
    );
  }
  const go = (view: 'explore' | 'compare') => {
    if (view === state.view) return;
    const type = state.type;
    if (view === 'compare') {
      const q = state.view === 'explore' ? state.query : '{}';
      setState(parseState('/compare', new URLSearchParams({ type, aq: q, bq: q }).toString()), true);
    } else {
      const q = state.view === 'compare' ? state.b.query : '{}';
      setState(parseState('/explore', new URLSearchParams({ type, q }).toString()), true);
    }
  };
  return (
    <Ctx.Provider value={ctx}>
      <Header dark={dark} toggleTheme={toggleTheme} session={session} view={state.view} go={go} signOut={() => signOut('Signed out.')} />
      <main className="main">
        <Suspense
          fallback={
            <div className="state-msg" aria-busy="true">
              Loading…
            </div>
          }
        >
          {state.view === 'compare' ? <CompareView state={state} setState={setState} /> : <ExploreView state={state} setState={setState} />}
        </Suspense>
      </main>
    </Ctx.Provider>
  );
}

function Header(props: {
  dark: boolean;
  toggleTheme: () => void;
  session?: Session;
  view?: string;
  go?: (v: 'explore' | 'compare') => void;
  signOut?: () => void;
}) {
  return (
    <header className="header">
      <span className="logo" aria-label="Firn">
        <img src="/favicon.svg" alt="" width="22" height="22" /> Firn
      </span>
      {props.go && (
        <nav className="tabs" aria-label="Views">
          {(['explore', 'compare'] as const).map((v) => (
            <button
              key={v}
              type="button"
              className={props.view === v ? 'tab active' : 'tab'}
              aria-current={props.view === v ? 'page' : undefined}
              onClick={() => props.go?.(v)}
            >
              {v === 'explore' ? 'Explore' : 'Compare'}
            </button>
          ))}
        </nav>
      )}
      <span className="spacer" />
      {props.session && (
        <span className="tenant" title={`scopes: ${props.session.scopes.join(', ')}`}>
          tenant <strong data-testid="tenant">{props.session.tenant}</strong>
        </span>
      )}
      <button type="button" className="ghost" onClick={props.toggleTheme} aria-label={props.dark ? 'Switch to the light theme' : 'Switch to the dark theme'}>
        {props.dark ? '☀ Light' : '☾ Dark'}
      </button>
      {props.signOut && (
        <button type="button" className="ghost" onClick={props.signOut}>
          Sign out
        </button>
      )}
    </header>
  );
}
