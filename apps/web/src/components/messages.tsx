import type { ApiError } from '../api/client';

export function ErrorBox({ error, retry }: { error: Pick<ApiError, 'kind' | 'message'>; retry?: () => void }) {
  const title =
    error.kind === 'network'
      ? 'Network error'
      : error.kind === 'input'
        ? 'The query was refused'
        : error.kind === 'auth'
          ? 'Not signed in'
          : 'The query failed';
  return (
    <div className="error-box" role="alert">
      <strong>{title}.</strong> <span>{error.message}</span>
      {retry && (
        <button type="button" className="ghost" onClick={retry}>
          Retry
        </button>
      )}
    </div>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <div className="state-msg" aria-busy="true" role="status">
      <span className="spinner" aria-hidden="true" /> Loading {what}…
    </div>
  );
}

export function Empty({ children }: { children: React.ReactNode }) {
  return (
    <div className="state-msg empty" role="status">
      {children}
    </div>
  );
}
