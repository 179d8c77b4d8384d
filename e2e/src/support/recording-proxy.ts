import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface RecordedRequest {
  method: string;
  /** Path and query, as the client sent them. */
  url: string;
  headers: Record<string, string>;
  body: Buffer;
  /** What the upstream answered. */
  status: number;
  response: string;
}

/**
 * An HTTP/1.1 proxy that forwards every request unchanged to `upstream` and records it with the
 * answer: lets a test know exactly what a real client (an SDK that hides its errors) sent and
 * whether it was accepted.
 */
export class RecordingProxy {
  private constructor(
    private readonly server: Server,
    readonly base: string,
    readonly requests: RecordedRequest[],
  ) {}

  static async start(upstream: string): Promise<RecordingProxy> {
    const requests: RecordedRequest[] = [];
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        const headers: Record<string, string> = {};
        for (const [k, v] of Object.entries(req.headers))
          if (typeof v === 'string' && k !== 'host' && k !== 'connection' && k !== 'content-length') headers[k] = v;
        const method = req.method ?? 'GET';
        fetch(`${upstream}${req.url ?? '/'}`, { method, headers, body: method === 'GET' || method === 'HEAD' ? undefined : body })
          .then(async (up) => {
            const text = await up.text();
            requests.push({ method, url: req.url ?? '/', headers, body, status: up.status, response: text });
            res.writeHead(up.status, { 'content-type': up.headers.get('content-type') ?? 'text/plain' });
            res.end(text);
          })
          .catch((err: unknown) => {
            requests.push({ method, url: req.url ?? '/', headers, body, status: 502, response: String(err) });
            res.writeHead(502);
            res.end(String(err));
          });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return new RecordingProxy(server, `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
