import pino, { type DestinationStream, type Logger } from 'pino';
import { currentRequestContext } from './request-context';

export type { Logger } from 'pino';

export interface LoggerOptions {
  component: string;
  level?: string;
  /** Where JSON lines go; stdout by default. Tests pass a stream to capture them. */
  destination?: DestinationStream;
}

/** JSON logs, one object a line, with `component`, and `request_id`/`tenant` when in a request. */
export function createLogger(opts: LoggerOptions): Logger {
  return pino(
    {
      level: opts.level ?? 'info',
      base: { component: opts.component },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      mixin() {
        const ctx = currentRequestContext();
        if (!ctx) return {};
        return ctx.tenant ? { request_id: ctx.requestId, tenant: ctx.tenant } : { request_id: ctx.requestId };
      },
      redact: { paths: ['authorization', '*.authorization', 'token', '*.token', 'secret', '*.secret'], censor: '[redacted]' },
    },
    opts.destination ?? pino.destination({ sync: true }),
  );
}
