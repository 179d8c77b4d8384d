import type { BackendSrvRequest, FetchError, FetchResponse } from '@grafana/runtime';
import { Observable } from 'rxjs';

/** What the plugin sent, as Grafana's frontend would send it to Grafana's server. */
export interface SentRequest {
  url: string;
  method: string;
  headers: Record<string, string>;
}

/**
 * Stands in for Grafana's frontend BackendSrv (what `getBackendSrv()` returns) in tests: the
 * plugin's `fetch` calls go over HTTP to a Grafana-like server ({@link GrafanaProxy}) with the
 * same response handling as Grafana's: the body parsed as JSON when it is JSON, else text;
 * non-2xx statuses become a FetchError `{ status, statusText, data, config }`. Works in Node and
 * in the browser (same-origin `base` = '').
 */
export class TestBackendSrv {
  readonly sent: SentRequest[] = [];

  constructor(private readonly base: string) {}

  fetch<T>(options: BackendSrvRequest): Observable<FetchResponse<T>> {
    return new Observable<FetchResponse<T>>((subscriber) => {
      const abort = new AbortController();
      const headers: Record<string, string> = { ...(options.headers as Record<string, string> | undefined) };
      let body: string | undefined;
      if (options.data !== undefined) {
        body = typeof options.data === 'string' ? options.data : JSON.stringify(options.data);
        if (!Object.keys(headers).some((h) => h.toLowerCase() === 'content-type')) headers['Content-Type'] = 'application/json';
      }
      const method = (options.method ?? 'GET').toUpperCase();
      const query = options.params ? `?${new URLSearchParams(options.params as Record<string, string>)}` : '';
      this.sent.push({ url: options.url, method, headers });
      const fail = (status: number, statusText: string, data: unknown) => {
        const err: FetchError = { status, statusText, data, config: options };
        subscriber.error(err);
      };
      fetch(`${this.base}${options.url}${query}`, { method, headers, body, signal: abort.signal })
        .then(async (res) => {
          const text = await res.text();
          let data: unknown = text;
          try {
            data = JSON.parse(text);
          } catch {
            // not JSON: Grafana keeps the text
          }
          if (!res.ok) return fail(res.status, res.statusText, data);
          subscriber.next({
            data: data as T,
            status: res.status,
            statusText: res.statusText,
            ok: res.ok,
            headers: res.headers,
            url: res.url,
            type: res.type,
            redirected: res.redirected,
            config: options,
          });
          subscriber.complete();
        })
        .catch((err: unknown) => {
          if (!abort.signal.aborted) fail(0, 'network error', { message: err instanceof Error ? err.message : String(err) });
        });
      return () => abort.abort();
    });
  }
}
