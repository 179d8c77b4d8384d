import { Writable } from 'node:stream';
import { trace } from '@opentelemetry/api';
import { tracing } from '@opentelemetry/sdk-node';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger';
import { Counter, createMetricsRegistry, metricName } from './metrics';
import { newRequestId, runWithRequestContext } from './request-context';
import { contextFromHeaders, inSpan, spanContextFromHeaders, startTracing, traceHeaders } from './tracing';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return {
    stream,
    lines: () =>
      chunks
        .join('')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe(createLogger.name, () => {
  it('writes JSON lines with component, request id and tenant from the context', () => {
    const out = capture();
    const log = createLogger({ component: 'gateway', destination: out.stream });
    log.info('outside');
    runWithRequestContext({ requestId: 'req-1', tenant: 'acme' }, () => log.info({ authorization: 'Bearer x' }, 'inside'));
    const [a, b] = out.lines();
    expect(a).toMatchObject({ component: 'gateway', level: 'info', msg: 'outside' });
    expect(a).not.toHaveProperty('request_id');
    expect(b).toMatchObject({ request_id: 'req-1', tenant: 'acme', authorization: '[redacted]' });
  });
});

describe(newRequestId.name, () => {
  it('keeps sane incoming ids and replaces hostile ones', () => {
    expect(newRequestId('abc-123')).toBe('abc-123');
    expect(newRequestId('bad\nid')).not.toContain('\n');
    expect(newRequestId(undefined)).toMatch(/^[0-9a-f-]{36}$/);
  });
});

describe(createMetricsRegistry.name, () => {
  it('uses its own registry with firn_<component>_ process metrics', async () => {
    const a = createMetricsRegistry('querier');
    const b = createMetricsRegistry('ingester', { defaultMetrics: false });
    new Counter({ name: metricName('ingester', 'segments_flushed_total'), help: 'h', registers: [b] }).inc();
    const textA = await a.metrics();
    const textB = await b.metrics();
    expect(textA).toContain('firn_querier_process_cpu_seconds_total');
    expect(textA).not.toContain('firn_ingester_');
    expect(textB).toContain('firn_ingester_segments_flushed_total 1');
  });

  it('rejects names outside the convention', () => {
    expect(() => metricName('gateway', 'Bad-Name')).toThrow();
  });
});

describe(startTracing.name, () => {
  it('exports spans through the configured exporter', async () => {
    const exporter = new tracing.InMemorySpanExporter();
    const t = startTracing({ serviceName: 'firn-test', exporter });
    t.tracer.startActiveSpan('op', (span) => {
      span.setAttribute('firn.tenant', 'acme');
      span.end();
    });
    expect(trace.getTracer('x')).toBeDefined();
    const spans = exporter.getFinishedSpans();
    expect(spans.map((s) => s.name)).toContain('op');
    expect(spans[0].attributes['firn.tenant']).toBe('acme');
    await t.shutdown();
  });

  it('gives each server its own provider, so two in one process export apart', async () => {
    const ea = new tracing.InMemorySpanExporter();
    const eb = new tracing.InMemorySpanExporter();
    const a = startTracing({ serviceName: 'firn-a', exporter: ea });
    const b = startTracing({ serviceName: 'firn-b', exporter: eb });
    await inSpan(a.tracer, 'outer', () => inSpan(b.tracer, 'inner', async () => undefined));
    const [outer] = ea.getFinishedSpans();
    await a.shutdown();
    await inSpan(b.tracer, 'after', async () => undefined);
    const names = eb.getFinishedSpans().map((s) => s.name);
    expect(names).toEqual(['inner', 'after']);
    const inner = eb.getFinishedSpans()[0];
    expect(inner.resource.attributes['service.name']).toBe('firn-b');
    expect(inner.spanContext().traceId).toBe(outer.spanContext().traceId);
    expect(inner.parentSpanContext?.spanId).toBe(outer.spanContext().spanId);
    await b.shutdown();
  });

  it('carries the trace context through W3C headers, and puts its ids in log lines', async () => {
    const exporter = new tracing.InMemorySpanExporter();
    const t = startTracing({ serviceName: 'firn-test', exporter });
    const out = capture();
    const log = createLogger({ component: 'gateway', destination: out.stream });
    expect(traceHeaders()).toEqual({});
    const sent = await inSpan(t.tracer, 'client', async () => {
      log.info('in a span');
      return traceHeaders();
    });
    expect(sent.traceparent).toMatch(/^00-[0-9a-f]{32}-[0-9a-f]{16}-01$/);
    // NATS keeps the publisher's header case; HTTP lowercases: both are read.
    const received = spanContextFromHeaders(new Map([['Traceparent', sent.traceparent]]));
    expect(spanContextFromHeaders({ traceparent: 'garbage' })).toBeUndefined();
    await inSpan(
      t.tracer,
      'server',
      async () => runWithRequestContext({ requestId: 'r' }, () => log.info('served')),
      {},
      contextFromHeaders({ traceparent: sent.traceparent }),
    );
    const [client, server] = exporter.getFinishedSpans();
    expect(received?.spanId).toBe(client.spanContext().spanId);
    expect(server.spanContext().traceId).toBe(client.spanContext().traceId);
    expect(server.parentSpanContext?.spanId).toBe(client.spanContext().spanId);
    const [a, b] = out.lines();
    expect(a).toMatchObject({ trace_id: client.spanContext().traceId, span_id: client.spanContext().spanId });
    expect(b).toMatchObject({ request_id: 'r', trace_id: server.spanContext().traceId, span_id: server.spanContext().spanId });
    await t.shutdown();
  });
});
