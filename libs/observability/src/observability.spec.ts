import { Writable } from 'node:stream';
import { trace } from '@opentelemetry/api';
import { tracing } from '@opentelemetry/sdk-node';
import { describe, expect, it } from 'vitest';
import { createLogger } from './logger';
import { Counter, createMetricsRegistry, metricName } from './metrics';
import { newRequestId, runWithRequestContext } from './request-context';
import { startTracing } from './tracing';

function capture(): { stream: Writable; lines: () => Record<string, unknown>[] } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString());
      cb();
    },
  });
  return { stream, lines: () => chunks.join('').trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>) };
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
});
