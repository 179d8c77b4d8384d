import {
  ROOT_CONTEXT,
  SpanStatusCode,
  context,
  defaultTextMapSetter,
  isSpanContextValid,
  propagation,
  trace,
  type Context,
  type Span,
  type SpanContext,
  type SpanOptions,
  type TextMapGetter,
  type Tracer,
} from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';
import { core, node, resources, tracing } from '@opentelemetry/sdk-node';

export interface TracingOptions {
  serviceName: string;
  /** OTLP/HTTP traces URL. Empty: spans are created (ids in logs, propagation) but not exported. */
  otlpEndpoint?: string;
  sampleRatio?: number;
  /** Tests inject an in-memory exporter. */
  exporter?: tracing.SpanExporter;
}

export interface Tracing {
  readonly tracer: Tracer;
  shutdown(): Promise<void>;
}

/** W3C Trace Context (`traceparent`, `tracestate`): what every API reads and every hop writes. */
const W3C = new core.W3CTraceContextPropagator();

let globalsRegistered = false;

/**
 * The context manager (AsyncLocalStorage: the active span follows async calls) and the
 * propagator are process-wide in the OpenTelemetry API, one of each; registered by the first
 * `startTracing` and kept for the life of the process.
 */
function registerGlobals(): void {
  if (globalsRegistered) return;
  globalsRegistered = true;
  context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
  propagation.setGlobalPropagator(W3C);
}

/**
 * Starts tracing for one server. Instrumentation is manual (the edge wraps each RPC/HTTP
 * request in a span; components add spans around their expensive steps), which keeps start-up
 * fast and avoids monkey-patching the SDKs we use. Each call has its own tracer provider (its
 * own `service.name` and exporter) and none becomes the global one, so several servers in one
 * process (the in-process test cluster) each export their own spans and one's shutdown does not
 * end another's; components use the tracer they are given (`TRACER`), never `trace.getTracer()`.
 */
export function startTracing(opts: TracingOptions): Tracing {
  registerGlobals();
  const exporter = opts.exporter ?? (opts.otlpEndpoint ? new OTLPTraceExporter({ url: opts.otlpEndpoint }) : undefined);
  const spanProcessors = exporter ? [opts.exporter ? new tracing.SimpleSpanProcessor(exporter) : new tracing.BatchSpanProcessor(exporter)] : [];
  const provider = new node.NodeTracerProvider({
    resource: resources.resourceFromAttributes({ 'service.name': opts.serviceName }),
    spanProcessors,
    sampler: new tracing.ParentBasedSampler({ root: new tracing.TraceIdRatioBasedSampler(opts.sampleRatio ?? 1) }),
  });
  return {
    tracer: provider.getTracer(opts.serviceName),
    shutdown: () => provider.shutdown(),
  };
}

/**
 * Runs `fn` in a new active span (child of the active one, or of `parent`), ends it when `fn`
 * settles, and marks it ERROR with the exception if `fn` throws.
 */
export async function inSpan<T>(tracer: Tracer, name: string, fn: (span: Span) => Promise<T>, opts: SpanOptions = {}, parent?: Context): Promise<T> {
  return tracer.startActiveSpan(name, opts, parent ?? context.active(), async (span) => {
    try {
      return await fn(span);
    } catch (err) {
      failed(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** `inSpan` for synchronous steps (e.g. merging partial aggregates). */
export function inSpanSync<T>(tracer: Tracer, name: string, fn: (span: Span) => T, opts: SpanOptions = {}): T {
  return tracer.startActiveSpan(name, opts, (span) => {
    try {
      return fn(span);
    } catch (err) {
      failed(span, err);
      throw err;
    } finally {
      span.end();
    }
  });
}

/** Marks a span failed with the error (its message only: no stack, no request data). */
export function failed(span: Span, err: unknown): void {
  span.setStatus({ code: SpanStatusCode.ERROR, message: err instanceof Error ? err.message : String(err) });
}

/** Headers as they come: Node's incoming headers, a NATS message's headers. */
export type HeaderSource = ReadonlyMap<string, string> | Readonly<Record<string, string | readonly string[] | undefined>>;

const headerGetter: TextMapGetter<HeaderSource> = {
  keys: (carrier) => (isMap(carrier) ? [...carrier.keys()] : Object.keys(carrier)),
  get(carrier, key) {
    if (isMap(carrier)) {
      const exact = carrier.get(key);
      if (exact !== undefined) return exact;
      // Header names are case-insensitive; NATS keeps the case the publisher used.
      for (const [k, v] of carrier) if (k.toLowerCase() === key) return v;
      return undefined;
    }
    const v = carrier[key];
    return typeof v === 'string' ? v : v?.[0];
  },
};

function isMap(h: HeaderSource): h is ReadonlyMap<string, string> {
  return h instanceof Map;
}

/**
 * The trace context of the active span (or of `ctx`) as W3C headers, to send with a call or
 * a message; `{}` outside a span.
 */
export function traceHeaders(ctx: Context = context.active()): Record<string, string> {
  const out: Record<string, string> = {};
  const sc = trace.getSpanContext(ctx);
  if (sc && isSpanContextValid(sc)) W3C.inject(ctx, out, defaultTextMapSetter);
  return out;
}

/** A context whose parent is the caller's span named in `traceparent`, if the headers carry a valid one. */
export function contextFromHeaders(headers: HeaderSource, base: Context = ROOT_CONTEXT): Context {
  return W3C.extract(base, headers, headerGetter);
}

/** The remote span context the headers carry (for span links), if valid. */
export function spanContextFromHeaders(headers: HeaderSource): SpanContext | undefined {
  const sc = trace.getSpanContext(contextFromHeaders(headers));
  return sc && isSpanContextValid(sc) ? sc : undefined;
}

/** Trace and span id of the active span, for log lines; undefined outside a span. */
export function activeTraceIds(): { trace_id: string; span_id: string } | undefined {
  const sc = trace.getSpanContext(context.active());
  return sc && isSpanContextValid(sc) ? { trace_id: sc.traceId, span_id: sc.spanId } : undefined;
}
