import { createServer as createHttp1Server, type IncomingMessage, type Server as Http1Server, type ServerResponse } from 'node:http';
import {
  constants as h2,
  createServer as createHttp2Server,
  type Http2ServerRequest,
  type Http2ServerResponse,
  type Http2Server,
  type Http2Session,
} from 'node:http2';
import { createServer as createNetServer, type AddressInfo, type Server as NetServer, type Socket } from 'node:net';
import { SpanKind, SpanStatusCode, type Tracer } from '@opentelemetry/api';
import type { ConnectRouter } from '@connectrpc/connect';
import { contextFromHeaders, newRequestId, runWithRequestContext, type Logger, type Registry } from '@firn/observability';
import { DEFAULT_RETRY_AFTER_SECONDS } from './error-mapping';
import type { Readiness } from './readiness';
import { DEFAULT_READ_MAX_BYTES, createRpcNodeHandler } from './rpc-node-handler';
import { HttpMetrics } from './runtime.metrics';

type NodeRequest = IncomingMessage | Http2ServerRequest;
type NodeResponse = ServerResponse | Http2ServerResponse;
export type HttpHandler = (req: IncomingMessage, res: ServerResponse) => void;

export interface AppHandlers {
  /** Registers every Connect service this process serves (gRPC, gRPC-web and Connect), with their interceptors. */
  routes: (router: ConnectRouter) => void;
  /** Plain HTTP/1.1 routes (NestJS/express) for everything that is not an RPC. */
  http?: HttpHandler;
  /** Largest accepted RPC message, bytes, also after decompression (default 4 MiB). */
  readMaxBytes?: number;
}

export interface OnePortServerOptions {
  component: string;
  host: string;
  port: number;
  log: Logger;
  registry: Registry;
  readiness: Readiness;
  tracer: Tracer;
}

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0');
/** The largest HTTP/2 stream id: a GOAWAY naming it refuses no stream the client already sent. */
const MAX_STREAM_ID = 2 ** 31 - 1;
/** How long a drain waits for a client's PING answer before sending the final GOAWAY anyway. */
const GOAWAY_PING_WAIT_MS = 2000;
/**
 * How long a drain lets idle HTTP/1.1 keep-alive connections carry one more request (answered
 * with `Connection: close`) before closing them.
 */
const H1_IDLE_GRACE_MS = 1000;
const DRAIN_POLL_MS = 50;

/**
 * One TCP port for every protocol: the first bytes of a connection tell HTTP/2 (prior-knowledge
 * h2c, what gRPC clients speak) from HTTP/1.1 (gRPC-web, Connect, REST, curl). Both servers share
 * one handler: health endpoints, then Connect RPC routes, then plain HTTP routes.
 */
export class OnePortServer {
  private readonly net: NetServer;
  private readonly h1: Http1Server;
  private readonly h2: Http2Server;
  private readonly sessions = new Set<Http2Session>();
  private readonly sockets = new Set<Socket>();
  /** Connections whose first bytes have not told their protocol yet. */
  private readonly sniffing = new Set<Socket>();
  /** HTTP/1.1 responses in progress (a drain asks their clients to close the connection). */
  private readonly h1Responses = new Set<NodeResponse>();
  private handler: (req: NodeRequest, res: NodeResponse) => void;
  private inFlight = 0;
  private draining = false;
  private readonly metrics: HttpMetrics;

  constructor(private readonly opts: OnePortServerOptions) {
    this.metrics = new HttpMetrics(opts.registry, opts.component);
    // Node loads its fetch implementation (undici) on the first use of the global Headers, which
    // Connect's request handling makes: ≈ 20 ms of CPU the first RPC would pay, paid at start.
    void new Headers();
    this.handler = (req, res) => this.notYet(req, res);
    const handle = (req: NodeRequest, res: NodeResponse): void => this.dispatch(req, res);
    this.h1 = createHttp1Server(handle);
    this.h1.keepAliveTimeout = 65_000;
    this.h2 = createHttp2Server(handle);
    this.h2.on('session', (s: Http2Session) => {
      this.sessions.add(s);
      s.once('close', () => this.sessions.delete(s));
    });
    this.net = createNetServer((socket) => this.sniff(socket));
  }

  /** Installs the application once dependencies are up; until then RPCs get UNAVAILABLE. */
  setApp(app: AppHandlers): void {
    const rpc = createRpcNodeHandler({
      routes: app.routes,
      readMaxBytes: app.readMaxBytes ?? DEFAULT_READ_MAX_BYTES,
      log: this.opts.log,
      fallback: (req, res) => {
        if ('stream' in req || !app.http) {
          this.json(res, 404, { code: 'not_found', message: `no route for ${req.method} ${req.url}` });
          return;
        }
        app.http(req, res as ServerResponse);
      },
    });
    this.handler = rpc;
  }

  async listen(): Promise<AddressInfo> {
    await new Promise<void>((resolve, reject) => {
      this.net.once('error', reject);
      this.net.listen(this.opts.port, this.opts.host, () => {
        this.net.off('error', reject);
        resolve();
      });
    });
    return this.address();
  }

  address(): AddressInfo {
    return this.net.address() as AddressInfo;
  }

  /**
   * Stops accepting connections, lets in-flight requests finish (up to `timeoutMs`), then closes
   * what is left. Connections end without cutting a request a client sent before it could know
   * of the drain (which a client that does not retry would report as failed):
   * - HTTP/2: a first GOAWAY with the largest stream id stops new streams but still takes those
   *   already on the wire; after a PING round trip, the final GOAWAY names the last stream
   *   processed (what gRPC servers do). A single GOAWAY would refuse a call crossing it.
   * - HTTP/1.1 has no GOAWAY: every response now carries `Connection: close`; connections still
   *   idle after a short grace (a client that sends regularly has had its answer by then) are
   *   closed.
   * Resolves once every connection has closed, or at the deadline, cutting what still runs.
   */
  async drain(timeoutMs: number): Promise<{ abandoned: number }> {
    this.draining = true;
    const deadline = Date.now() + timeoutMs;
    const closed = new Promise<void>((resolve) => this.net.close(() => resolve()));
    for (const s of this.sessions) goAway(s);
    for (const res of this.h1Responses) if (!res.headersSent) res.setHeader('connection', 'close');
    const idleGraceEnd = Date.now() + Math.min(H1_IDLE_GRACE_MS, timeoutMs);
    while (Date.now() < deadline) {
      if (Date.now() >= idleGraceEnd) {
        this.h1.closeIdleConnections();
        // Connected but silent: not a request yet, and never going to be one here.
        for (const sock of this.sniffing) sock.destroy();
      }
      if (this.inFlight === 0 && this.sockets.size === 0) break;
      await new Promise<void>((resolve) => setTimeout(resolve, Math.min(DRAIN_POLL_MS, Math.max(1, deadline - Date.now()))).unref());
    }
    const abandoned = this.inFlight;
    this.h1.closeAllConnections();
    for (const s of this.sessions) s.destroy();
    for (const sock of this.sockets) sock.destroy();
    await closed;
    return { abandoned };
  }

  private sniff(socket: Socket): void {
    this.sockets.add(socket);
    this.sniffing.add(socket);
    socket.once('close', () => {
      this.sockets.delete(socket);
      this.sniffing.delete(socket);
    });
    let buffered = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buffered = Buffer.concat([buffered, chunk]);
      const n = Math.min(buffered.length, H2_PREFACE.length);
      const maybeH2 = buffered.subarray(0, n).equals(H2_PREFACE.subarray(0, n));
      if (maybeH2 && buffered.length < H2_PREFACE.length) return; // need more bytes to decide
      socket.off('data', onData);
      this.sniffing.delete(socket);
      socket.pause();
      socket.unshift(buffered);
      if (maybeH2) {
        // The HTTP/2 session drains already-buffered bytes itself on the next tick; resuming
        // here would emit them as 'data' to nobody and lose the connection preface.
        this.h2.emit('connection', socket);
      } else {
        this.h1.emit('connection', socket);
        socket.resume();
      }
    };
    socket.on('data', onData);
    socket.on('error', () => socket.destroy());
  }

  private dispatch(req: NodeRequest, res: NodeResponse): void {
    this.inFlight++;
    let done = false;
    const finish = (): void => {
      if (done) return;
      done = true;
      this.inFlight--;
      this.h1Responses.delete(res);
    };
    res.once('close', finish);
    res.once('finish', finish);

    if (!('stream' in req)) {
      this.h1Responses.add(res);
      // Draining: an HTTP/1.1 client must not send its next request on this connection.
      if (this.draining) res.setHeader('connection', 'close');
    }
    const requestId = newRequestId(headerOf(req, 'x-request-id'));
    res.setHeader('x-request-id', requestId);
    const path = (req.url ?? '/').split('?')[0];
    runWithRequestContext({ requestId }, () => {
      if (path === '/healthz' || path === '/readyz' || path === '/metrics') {
        void this.serveOps(path, res).catch((err: unknown) => {
          this.opts.log.error({ err }, 'ops endpoint failed');
          if (!res.headersSent) this.json(res, 500, { code: 'internal', message: 'internal error' });
        });
        return;
      }
      const route = routeOf(path);
      // Every API (gRPC, gRPC-web, Connect, plain HTTP) continues the caller's trace when it
      // sends a W3C `traceparent`: a peer querier's share, a forwarded query, a traced client.
      const parent = contextFromHeaders(req.headers);
      this.opts.tracer.startActiveSpan(route.rpc ? route.name : `${req.method} ${route.name}`, { kind: SpanKind.SERVER }, parent, (span) => {
        span.setAttribute('firn.request_id', requestId);
        res.once('close', () => {
          if (res.statusCode >= 500) span.setStatus({ code: SpanStatusCode.ERROR });
          span.setAttribute('http.status_code', res.statusCode);
          span.end();
        });
        // RPCs are counted by the interceptor with their procedure and gRPC code.
        if (!route.rpc) res.once('finish', () => this.metrics.requests.inc({ route: route.name, status: String(res.statusCode) }));
        this.handler(req, res);
      });
    });
  }

  private async serveOps(path: string, res: NodeResponse): Promise<void> {
    if (path === '/healthz') {
      this.json(res, 200, { status: 'ok' });
      return;
    }
    if (path === '/readyz') {
      const report = await this.opts.readiness.evaluate();
      this.json(res, report.ready ? 200 : 503, report);
      return;
    }
    const body = await this.opts.registry.metrics();
    res.statusCode = 200;
    res.setHeader('content-type', this.opts.registry.contentType);
    res.end(body);
  }

  private notYet(req: NodeRequest, res: NodeResponse): void {
    res.setHeader('retry-after', String(DEFAULT_RETRY_AFTER_SECONDS));
    this.json(res, 503, { code: 'unavailable', message: `${this.opts.component} is starting; ${req.url} is not served yet` });
  }

  private json(res: NodeResponse, status: number, body: unknown): void {
    res.statusCode = status;
    res.setHeader('content-type', 'application/json');
    res.end(JSON.stringify(body));
  }
}

/** The two-step GOAWAY of a graceful HTTP/2 shutdown (see OnePortServer.drain). */
function goAway(s: Http2Session): void {
  if (s.closed || s.destroyed) return;
  s.goaway(h2.NGHTTP2_NO_ERROR, MAX_STREAM_ID);
  let done = false;
  const final = (): void => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    // Sends the GOAWAY with the last stream processed; the session closes when its streams end.
    if (!s.closed && !s.destroyed) s.close();
  };
  const timer = setTimeout(final, GOAWAY_PING_WAIT_MS);
  timer.unref();
  if (!s.ping(() => final())) final();
}

const RPC_PATH = /^\/[A-Za-z_][\w.]*\.[A-Za-z_]\w*\/[A-Za-z_]\w*$/;

/** A bounded label for metrics and span names: the RPC procedure, or a coarse HTTP route. */
function routeOf(path: string): { rpc: boolean; name: string } {
  if (RPC_PATH.test(path)) return { rpc: true, name: path.slice(1) };
  if (path === '/ingest' || path.startsWith('/ingest/')) return { rpc: false, name: '/ingest' };
  const api = /^\/api\/v\d+\/[\w-]+/.exec(path);
  return { rpc: false, name: api ? api[0] : 'other' };
}

function headerOf(req: NodeRequest, name: string): string | undefined {
  const v = req.headers[name];
  return Array.isArray(v) ? v[0] : v;
}
