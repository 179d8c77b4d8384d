import { trace, type Tracer } from '@opentelemetry/api';
import { NodeSDK, resources, tracing } from '@opentelemetry/sdk-node';
import { OTLPTraceExporter } from '@opentelemetry/exporter-trace-otlp-http';

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

/**
 * Starts the OpenTelemetry SDK once per process. Instrumentation is manual (the edge wraps each
 * RPC/HTTP request in a span; components add spans around their expensive steps), which keeps
 * start-up fast and avoids monkey-patching the SDKs we use.
 */
export function startTracing(opts: TracingOptions): Tracing {
  const exporter = opts.exporter ?? (opts.otlpEndpoint ? new OTLPTraceExporter({ url: opts.otlpEndpoint }) : undefined);
  const processors = exporter
    ? [opts.exporter ? new tracing.SimpleSpanProcessor(exporter) : new tracing.BatchSpanProcessor(exporter)]
    : [];
  const sdk = new NodeSDK({
    resource: resources.resourceFromAttributes({ 'service.name': opts.serviceName }),
    spanProcessors: processors,
    sampler: new tracing.ParentBasedSampler({ root: new tracing.TraceIdRatioBasedSampler(opts.sampleRatio ?? 1) }),
    instrumentations: [],
    autoDetectResources: false,
  });
  sdk.start();
  return {
    tracer: trace.getTracer(opts.serviceName),
    shutdown: () => sdk.shutdown(),
  };
}
