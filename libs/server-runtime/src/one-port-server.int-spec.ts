import { request } from 'node:http';
import { trace } from '@opentelemetry/api';
import { afterEach, describe, expect, it } from 'vitest';
import { createLogger, createMetricsRegistry } from '@firn/observability';
import { OnePortServer } from './one-port-server';
import { Readiness } from './readiness';

function get(port: number, path: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end();
  });
}

describe(OnePortServer.name, () => {
  let server: OnePortServer | undefined;
  afterEach(async () => {
    await server?.drain(100);
    server = undefined;
  });

  function make(slowMs: number): OnePortServer {
    const readiness = new Readiness();
    readiness.markRunning();
    const s = new OnePortServer({
      component: 'test',
      host: '127.0.0.1',
      port: 0,
      log: createLogger({ component: 'test', level: 'silent' }),
      registry: createMetricsRegistry('test', { defaultMetrics: false }),
      readiness,
      tracer: trace.getTracer('test'),
    });
    s.setApp({
      routes: () => undefined,
      http: (_req, res) => {
        setTimeout(() => res.end('done'), slowMs);
      },
    });
    return s;
  }

  it('answers 503 for application routes until the app is installed, while /healthz works', async () => {
    const readiness = new Readiness();
    server = new OnePortServer({
      component: 'test',
      host: '127.0.0.1',
      port: 0,
      log: createLogger({ component: 'test', level: 'silent' }),
      registry: createMetricsRegistry('test', { defaultMetrics: false }),
      readiness,
      tracer: trace.getTracer('test'),
    });
    const { port } = await server.listen();
    expect((await get(port, '/healthz')).status).toBe(200);
    expect((await get(port, '/readyz')).status).toBe(503);
    expect(await get(port, '/api/x')).toMatchObject({ status: 503, body: expect.stringContaining('starting') });
  });

  it('lets in-flight requests finish on drain and refuses new connections', async () => {
    server = make(300);
    const { port } = await server.listen();
    const inflight = get(port, '/slow');
    await new Promise((r) => setTimeout(r, 50));
    const drained = server.drain(5000);
    await new Promise((r) => setTimeout(r, 20));
    await expect(get(port, '/late')).rejects.toThrow(/ECONNREFUSED/);
    expect(await inflight).toEqual({ status: 200, body: 'done' });
    expect(await drained).toEqual({ abandoned: 0 });
    server = undefined;
  });

  it('cuts requests that outlive the drain period and reports them', async () => {
    server = make(10_000);
    const { port } = await server.listen();
    const stuck = get(port, '/stuck').catch((err: Error) => err);
    await new Promise((r) => setTimeout(r, 50));
    expect(await server.drain(100)).toEqual({ abandoned: 1 });
    expect(await stuck).toBeInstanceOf(Error);
    server = undefined;
  });
});
