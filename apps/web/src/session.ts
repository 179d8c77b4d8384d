import type { Principal } from './api/client';

/** A signed-in token, kept for this browser tab only (sessionStorage), never in the URL or on disk. */
export interface Session extends Principal {
  token: string;
}

const KEY = 'firn.session';

export function loadSession(): Session | undefined {
  try {
    const raw = sessionStorage.getItem(KEY);
    const s = raw ? (JSON.parse(raw) as Session) : undefined;
    return s && typeof s.token === 'string' && typeof s.tenant === 'string' ? s : undefined;
  } catch {
    return undefined;
  }
}

export function saveSession(s: Session | undefined): void {
  if (s) sessionStorage.setItem(KEY, JSON.stringify(s));
  else sessionStorage.removeItem(KEY);
}

/**
 * A token handed over in the fragment (`/#token=…`, what `npm start` can print as a one-click
 * link): fragments never reach the server or its logs; it is removed from the address at once.
 */
export function takeTokenFromFragment(): string | undefined {
  const m = /(?:^#|&)token=([^&]+)/.exec(window.location.hash);
  if (!m) return undefined;
  history.replaceState(history.state, '', window.location.pathname + window.location.search);
  return decodeURIComponent(m[1]);
}
