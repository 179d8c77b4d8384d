export { createLogger, type Logger, type LoggerOptions } from './logger';
export { Counter, Gauge, Histogram, Registry, Summary, createMetricsRegistry, metricName } from './metrics';
export { currentRequestContext, newRequestId, runWithRequestContext, type RequestContext } from './request-context';
export {
  contextFromHeaders,
  failed,
  inSpan,
  inSpanSync,
  spanContextFromHeaders,
  startTracing,
  traceHeaders,
  type Tracing,
  type TracingOptions,
} from './tracing';
