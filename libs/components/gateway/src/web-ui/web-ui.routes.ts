import type { SiteFile, WebUiSite } from './web-ui.site';

/** A response for the UI, or `undefined` when the path belongs to an API (the request goes on). */
export interface UiResponse {
  status: number;
  headers: Record<string, string>;
  body?: Buffer;
  outcome: 'file' | 'index' | 'not_modified' | 'missing' | 'not_built';
}

/**
 * Paths the UI never answers, so no API route can be shadowed by a file or by the SPA
 * fallback, whatever is registered later: the HTTP APIs (`/api/…`, `/ingest`, OTLP's
 * `/v1development/…`, `/debug/…`), the ops endpoints and every Connect/gRPC-web procedure
 * (`/<package>.<Service>/<Method>`: a first segment with a dot, followed by another segment).
 */
export function isApiPath(path: string): boolean {
  const first = path.split('/')[1] ?? '';
  if (['api', 'ingest', 'healthz', 'readyz', 'metrics', 'debug'].includes(first)) return true;
  if (/^v\d+[a-z]*$/.test(first)) return true;
  return first.includes('.') && path.indexOf('/', 1) > 0;
}

const SECURITY_HEADERS: Record<string, string> = {
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'x-frame-options': 'DENY',
  // The UI talks to its own origin only; styles are set from script (uPlot, canvas sizes).
  'content-security-policy':
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
};

export interface UiRequest {
  method: string;
  url: string;
  acceptEncoding?: string;
  ifNoneMatch?: string;
  /** The request's Accept header: only a browser navigation (text/html) gets the SPA fallback. */
  accept?: string;
}

/**
 * Static files with long-lived caching for Vite's hashed assets, `no-cache` (revalidate by
 * ETag) for everything else, and the SPA fallback: any other GET that looks like a page
 * (no file extension, not under /assets/) and that a browser navigates to (Accept: text/html)
 * gets index.html, so deep links and share links work while scripts and API clients asking for
 * an unknown path still get a plain 404 from the router.
 */
export function uiResponse(site: WebUiSite | undefined, req: UiRequest): UiResponse | undefined {
  if (req.method !== 'GET' && req.method !== 'HEAD') return undefined;
  const path = pathOf(req.url);
  if (path === undefined || isApiPath(path)) return undefined;
  if (!site) {
    return {
      status: 503,
      outcome: 'not_built',
      headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-store', ...SECURITY_HEADERS },
      body: Buffer.from(
        'The Firn web UI is not built on this server: run `npm run build:web` (or set FIRN_UI_DIR to a built dist/web) and restart.\nThe APIs work as usual.\n',
      ),
    };
  }
  const file = site.file(path);
  if (file) return send(file, req, 'file');
  const last = path.slice(path.lastIndexOf('/') + 1);
  if (path.startsWith('/assets/') || last.includes('.')) {
    return {
      status: 404,
      outcome: 'missing',
      headers: { 'content-type': 'text/plain; charset=utf-8', 'cache-control': 'no-cache', ...SECURITY_HEADERS },
      body: Buffer.from(`not found: ${path}\n`),
    };
  }
  if (path !== '/' && !/\btext\/html\b/.test(req.accept ?? '')) return undefined;
  return send(site.index, req, 'index');
}

function send(file: SiteFile, req: UiRequest, outcome: 'file' | 'index'): UiResponse {
  const headers: Record<string, string> = {
    'content-type': file.type,
    'cache-control': file.immutable ? 'public, max-age=31536000, immutable' : 'no-cache',
    etag: file.etag,
    vary: 'accept-encoding',
    ...SECURITY_HEADERS,
  };
  if (req.ifNoneMatch && req.ifNoneMatch.split(',').some((t) => t.trim() === file.etag)) {
    return { status: 304, outcome: 'not_modified', headers };
  }
  const gzip = file.gzip && /\bgzip\b/.test(req.acceptEncoding ?? '');
  const body = gzip ? (file.gzip as Buffer) : file.body;
  if (gzip) headers['content-encoding'] = 'gzip';
  headers['content-length'] = String(body.length);
  return { status: 200, outcome, headers, body: req.method === 'HEAD' ? undefined : body };
}

function pathOf(url: string): string | undefined {
  const raw = url.split(/[?#]/)[0] || '/';
  try {
    const p = decodeURIComponent(raw);
    return p.startsWith('/') ? p : undefined;
  } catch {
    return undefined; // malformed escapes: not a UI path; the APIs answer 404
  }
}
