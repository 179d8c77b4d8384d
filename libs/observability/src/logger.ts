import pino, { type DestinationStream, type Logger } from 'pino';
import { currentRequestContext } from './request-context';
import { activeTraceIds } from './tracing';

export type { Logger } from 'pino';

export interface LoggerOptions {
  component: string;
  level?: string;
  /** Where JSON lines go; stdout by default. Tests pass a stream to capture them. */
  destination?: DestinationStream;
}

/**
 * JSON logs, one object a line, with `component`, `request_id`/`tenant` when in a request, and
 * `trace_id`/`span_id` when a span is active (a request, an ingester flush, a symbolize job).
 */
export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { component: opts.component },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin() {
        const ctx = currentRequestContext();
        const ids = activeTraceIds();
        if (!ctx) return ids ?? {};
        return { request_id: ctx.requestId, ...(ctx.tenant ? { tenant: ctx.tenant } : {}), ...ids };
      },
      redact: { paths: ['authorization', '*.authorization', 'token', '*.token', 'secret', '*.secret'], censor: '[redacted]' },
    },
    opts.destination ?? pino.destination({ sync: true }),
  );
}
