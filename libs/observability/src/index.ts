export { createLogger, type Logger } from './logger';
export { Counter, Gauge, Histogram, Registry, createMetricsRegistry, metricName } from './metrics';
export { currentRequestContext, newRequestId, runWithRequestContext } from './request-context';
export { contextFromHeaders, failed, inSpan, inSpanSync, spanContextFromHeaders, startTracing, traceHeaders } from './tracing';
