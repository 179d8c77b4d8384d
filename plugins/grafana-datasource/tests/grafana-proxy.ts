import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, request as httpRequest, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { request as httpsRequest } from 'node:https';
import type { AddressInfo } from 'node:net';
import { extname, join, normalize } from 'node:path';

/**
 * The part of Grafana's server a frontend data source plugin relies on, for tests (Grafana itself
 * cannot be installed on these machines):
 *
 * - data source settings: `PUT /api/datasources/uid/<uid>` saves jsonData and secureJsonData, `GET` reads them back;
 *   secrets stay here and only `secureJsonFields` (which secrets are set) goes back, as Grafana does;
 * - the data source proxy, `/api/datasources/proxy/uid/<uid>/<path>`, applying the plugin's
 *   `routes` from its built plugin.json like Grafana's pkg/api/pluginproxy: the first route whose
 *   `path` prefixes the proxied path; its `url` and `headers` are Go templates over `.JsonData` and
 *   `.SecureJsonData`; the route's path is replaced by its URL; cookies are not forwarded; an
 *   upstream 401 becomes 400 "Authentication to data source failed"; a connection or TLS failure
 *   becomes an empty 502, a timeout 504; the data source's tlsSkipVerify / CA settings apply;
 * - static files (the built plugin under `/public/plugins/<id>/`, a test page).
 */
export interface DataSourceSettings {
  jsonData: Record<string, unknown>;
  secureJsonData: Record<string, string>;
}

export interface ProxiedRequest {
  method: string;
  /** Where the route sent it. */
  upstreamUrl: string;
  /** Headers as they left for Firn (the route's Authorization included). */
  upstreamHeaders: Record<string, string>;
  status: number;
}

interface Route {
  path: string;
  method?: string;
  url?: string;
  headers?: Array<{ name: string; content: string }>;
}

const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.json': 'application/json',
  '.html': 'text/html',
  '.svg': 'image/svg+xml',
  '.css': 'text/css',
  '.map': 'application/json',
};

/** Go's text/template for the two fields Grafana's proxy offers: `{{ .JsonData.k }}`, `{{ .SecureJsonData.k }}`. */
export function interpolate(template: string, ds: DataSourceSettings): string {
  return template.replace(/\{\{\s*([^}]*?)\s*\}\}/g, (_all, expr: string) => {
    const m = /^\.(JsonData|SecureJsonData)\.([A-Za-z_][A-Za-z0-9_]*)$/.exec(expr);
    if (!m) throw new Error(`template "${template}": "${expr}" is not something Grafana's proxy can fill`);
    if (m[1] === 'SecureJsonData') return ds.secureJsonData[m[2]] ?? '';
    // A missing key of Go's map[string]interface{} prints as "<no value>".
    const v = ds.jsonData[m[2]];
    return v === undefined ? '<no value>' : String(v);
  });
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

export class GrafanaProxy {
  readonly proxied: ProxiedRequest[] = [];
  private readonly settings = new Map<string, DataSourceSettings>();
  private readonly routes: Route[];
  private server?: Server;
  base = '';

  constructor(
    /** The built plugin (dist/): its plugin.json supplies the routes and its files are served. */
    private readonly pluginDir: string,
    /** Extra static roots, e.g. `{ '/harness/': dir }`, and the file served at `/`. */
    private readonly statics: Record<string, string> = {},
    private readonly indexFile?: string,
    private readonly upstreamTimeoutMs = 30_000,
  ) {
    this.routes = (JSON.parse(readFileSync(join(pluginDir, 'plugin.json'), 'utf8')) as { routes?: Route[] }).routes ?? [];
  }

  get pluginId(): string {
    return (JSON.parse(readFileSync(join(this.pluginDir, 'plugin.json'), 'utf8')) as { id: string }).id;
  }

  /** What Grafana keeps when a data source is saved; returns what a browser may see. */
  save(
    uid: string,
    update: { jsonData?: Record<string, unknown>; secureJsonData?: Record<string, string> },
  ): { jsonData: Record<string, unknown>; secureJsonFields: Record<string, boolean> } {
    const cur = this.settings.get(uid) ?? { jsonData: {}, secureJsonData: {} };
    const next: DataSourceSettings = { jsonData: update.jsonData ?? cur.jsonData, secureJsonData: { ...cur.secureJsonData } };
    for (const [k, v] of Object.entries(update.secureJsonData ?? {})) {
      if (v === '') delete next.secureJsonData[k];
      else next.secureJsonData[k] = v;
    }
    this.settings.set(uid, next);
    return { jsonData: next.jsonData, secureJsonFields: Object.fromEntries(Object.keys(next.secureJsonData).map((k) => [k, true])) };
  }

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((err: unknown) => {
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end(String(err));
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this.base;
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.server ? this.server.close(() => resolve()) : resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://grafana');
    const save = /^\/api\/datasources\/uid\/([^/]+)$/.exec(url.pathname);
    if (save && req.method === 'GET') {
      const ds = this.settings.get(save[1]);
      res.writeHead(ds ? 200 : 404, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify(
          ds
            ? { uid: save[1], jsonData: ds.jsonData, secureJsonFields: Object.fromEntries(Object.keys(ds.secureJsonData).map((k) => [k, true])) }
            : { message: 'Data source not found' },
        ),
      );
      return;
    }
    if (save && req.method === 'PUT') {
      const body = JSON.parse((await readBody(req)).toString('utf8') || '{}') as {
        jsonData?: Record<string, unknown>;
        secureJsonData?: Record<string, string>;
      };
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(this.save(save[1], body)));
      return;
    }
    const proxy = /^\/api\/datasources\/proxy\/uid\/([^/]+)\/(.*)$/.exec(url.pathname);
    if (proxy) return this.proxy(proxy[1], proxy[2], url.search, req, res);
    return this.serveStatic(url.pathname, res);
  }

  private async proxy(uid: string, proxyPath: string, search: string, req: IncomingMessage, res: ServerResponse): Promise<void> {
    const ds = this.settings.get(uid);
    if (!ds) {
      res.writeHead(404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ message: 'Data source not found' }));
      return;
    }
    const route = this.routes.find((r) => (!r.method || r.method === '*' || r.method === req.method) && proxyPath.startsWith(r.path));
    if (!route?.url) {
      // This plugin has no data source URL of its own: everything must go through its route.
      res.writeHead(502).end();
      return;
    }
    const target = new URL(interpolate(route.url, ds));
    const rest = proxyPath.slice(route.path.length);
    target.pathname = `${target.pathname.replace(/\/$/, '')}/${rest.replace(/^\//, '')}`;
    target.search = search;
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (typeof v === 'string' && !['host', 'cookie', 'connection', 'origin', 'referer', 'authorization'].includes(k)) headers[k] = v;
    }
    headers['user-agent'] = 'Grafana/test-proxy';
    for (const h of route.headers ?? []) headers[h.name.toLowerCase()] = interpolate(h.content, ds);
    const body = await readBody(req);
    const record: ProxiedRequest = { method: req.method ?? 'GET', upstreamUrl: target.toString(), upstreamHeaders: headers, status: 0 };
    this.proxied.push(record);
    const send = target.protocol === 'https:' ? httpsRequest : httpRequest;
    const tls =
      target.protocol === 'https:'
        ? {
            rejectUnauthorized: ds.jsonData.tlsSkipVerify !== true,
            ...(ds.jsonData.tlsAuthWithCACert && ds.secureJsonData.tlsCACert ? { ca: ds.secureJsonData.tlsCACert } : {}),
          }
        : {};
    await new Promise<void>((resolve) => {
      const up = send(target, { method: req.method, headers, timeout: this.upstreamTimeoutMs, ...tls }, (upRes) => {
        void readBody(upRes).then((buf) => {
          record.status = upRes.statusCode ?? 0;
          if (upRes.statusCode === 401) {
            // Grafana hides the data source's 401 from the browser (which would log the user out).
            const msg = 'Authentication to data source failed';
            res.writeHead(400, { 'content-type': 'text/plain; charset=utf-8', 'content-length': Buffer.byteLength(msg) });
            res.end(msg);
          } else {
            const out: Record<string, string> = {};
            for (const [k, v] of Object.entries(upRes.headers))
              if (typeof v === 'string' && k !== 'set-cookie' && k !== 'transfer-encoding' && k !== 'connection') out[k] = v;
            res.writeHead(upRes.statusCode ?? 502, out);
            res.end(buf);
          }
          resolve();
        });
      });
      up.on('timeout', () => up.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
      up.on('error', (err: NodeJS.ErrnoException) => {
        record.status = err.code === 'ETIMEDOUT' ? 504 : 502;
        if (!res.headersSent) res.writeHead(record.status);
        res.end();
        resolve();
      });
      up.end(body.length > 0 ? body : undefined);
    });
  }

  private serveStatic(pathname: string, res: ServerResponse): void {
    const roots: Array<[string, string]> = [[`/public/plugins/${this.pluginId}/`, this.pluginDir], ...Object.entries(this.statics)];
    let file: string | undefined;
    if (pathname === '/' && this.indexFile) file = this.indexFile;
    for (const [prefix, dir] of roots) {
      if (!file && pathname.startsWith(prefix)) {
        const rel = normalize(decodeURIComponent(pathname.slice(prefix.length)));
        if (!rel.startsWith('..')) file = join(dir, rel);
      }
    }
    if (!file || !existsSync(file) || !statSync(file).isFile()) {
      res.writeHead(404, { 'content-type': 'text/plain' }).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(file)] ?? 'application/octet-stream' });
    createReadStream(file).pipe(res);
  }
}
