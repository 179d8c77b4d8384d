import type { CliIo } from '../cli/io';

export interface FetchCall {
  url: string;
  init: RequestInit;
}

/** A CliIo over in-memory files, a fixed clock and a scripted fetch, recording what it was asked. */
export function fakeCliIo(
  respond: (call: FetchCall) => Response | Promise<Response>,
  opts: { files?: Record<string, Uint8Array | string>; nowMs?: number } = {},
) {
  const out: string[] = [];
  const err: string[] = [];
  const calls: FetchCall[] = [];
  const files = new Map<string, Uint8Array>(Object.entries(opts.files ?? {}).map(([k, v]) => [k, typeof v === 'string' ? new TextEncoder().encode(v) : v]));
  const io: CliIo = {
    out: (l) => void out.push(l),
    err: (l) => void err.push(l),
    fetch: (async (input: string | URL | Request, init?: RequestInit) => {
      const call = { url: String(input instanceof Request ? input.url : input), init: init ?? {} };
      calls.push(call);
      return respond(call);
    }) as typeof fetch,
    readFile: async (path) => {
      const f = files.get(path);
      if (!f) throw Object.assign(new Error(`ENOENT: no such file or directory, open '${path}'`), { code: 'ENOENT' });
      return f;
    },
    writeFile: async (path, bytes) => void files.set(path, bytes),
    now: () => opts.nowMs ?? Date.UTC(2025, 0, 2, 12, 0, 0),
  };
  return { io, out, err, calls, files };
}

/** A JSON response as the admin API and /ingest send them. */
export function jsonResponse(status: number, body: unknown): Response {
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}
