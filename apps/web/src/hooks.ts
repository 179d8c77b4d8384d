import { createContext, useCallback, useContext, useEffect, useRef, useState } from 'react';
import { ApiError, type Api } from './api/client';

export interface AppContext {
  api: Api;
  /** The server stopped accepting the token: back to the sign-in page with this message. */
  signOut: (message?: string) => void;
  dark: boolean;
}

export const Ctx = createContext<AppContext | undefined>(undefined);

export function useApp(): AppContext {
  const c = useContext(Ctx);
  if (!c) throw new Error('useApp outside the signed-in app');
  return c;
}

export interface AsyncState<T> {
  data?: T;
  error?: ApiError;
  loading: boolean;
}

/**
 * Runs `fn` whenever `key` changes (cancelling the previous run) and on `reload()`. Errors become
 * page messages; an authentication error signs the user out with the server's reason.
 */
export function useAsync<T>(key: string | undefined, fn: (signal: AbortSignal) => Promise<T>): AsyncState<T> & { reload: () => void } {
  const { signOut } = useApp();
  const [state, setState] = useState<AsyncState<T>>({ loading: key !== undefined });
  const [tick, setTick] = useState(0);
  const fnRef = useRef(fn);
  fnRef.current = fn;
  useEffect(() => {
    if (key === undefined) {
      setState({ loading: false });
      return;
    }
    const ctl = new AbortController();
    setState((s) => ({ data: s.data, loading: true }));
    fnRef.current(ctl.signal).then(
      (data) => {
        if (!ctl.signal.aborted) setState({ data, loading: false });
      },
      (err: unknown) => {
        if (ctl.signal.aborted || (err instanceof DOMException && err.name === 'AbortError')) return;
        const e = err instanceof ApiError ? err : new ApiError('server', err instanceof Error ? err.message : String(err));
        if (e.kind === 'auth') signOut(`The server no longer accepts this token: ${e.message}`);
        setState({ error: e, loading: false });
      },
    );
    return () => ctl.abort();
  }, [key, tick, signOut]);
  const reload = useCallback(() => setTick((t) => t + 1), []);
  return { ...state, reload };
}

/** Width of an element, kept current with a ResizeObserver. */
export function useWidth<E extends HTMLElement>(): [React.RefObject<E>, number] {
  const ref = useRef<E>(null);
  const [width, setWidth] = useState(0);
  useEffect(() => {
    const el = ref.current;
    if (!el) return;
    const ro = new ResizeObserver((entries) => setWidth(Math.floor(entries[0].contentRect.width)));
    ro.observe(el);
    setWidth(Math.floor(el.getBoundingClientRect().width));
    return () => ro.disconnect();
  }, []);
  return [ref, width];
}

export function useDebounced<T>(value: T, ms: number): T {
  const [v, setV] = useState(value);
  useEffect(() => {
    const t = setTimeout(() => setV(value), ms);
    return () => clearTimeout(t);
  }, [value, ms]);
  return v;
}
