import { Catch, HttpException, type ArgumentsHost, type ExceptionFilter } from '@nestjs/common';
import type { ServerResponse } from 'node:http';
import { ErrorCode, FirnError } from '@firn/errors';
import type { Logger } from '@firn/observability';
import { classify, toHttpError } from './error-mapping';

/** Plain-HTTP edge: every error leaves as `{code, message}` JSON with the mapped status. */
@Catch()
export class HttpErrorFilter implements ExceptionFilter {
  constructor(private readonly log: Logger) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const res = host.switchToHttp().getResponse<ServerResponse>();
    const err = exception instanceof HttpException ? fromNest(exception) : exception;
    const c = classify(err);
    if (c.unexpected) this.log.error({ err: exception }, 'http request failed with an unexpected error');
    const out = toHttpError(err);
    if (res.headersSent) {
      res.end();
      return;
    }
    res.writeHead(out.status, { ...out.headers, 'content-type': 'application/json' });
    res.end(JSON.stringify(out.body));
  }
}

function fromNest(e: HttpException): unknown {
  const status = e.getStatus();
  if (status === 404) return FirnError.notFound(e.message);
  if (status === 413) return new FirnError(ErrorCode.ResourceExhausted, e.message, { httpStatus: 413 });
  if (status >= 400 && status < 500) return new FirnError(ErrorCode.InvalidArgument, e.message);
  return e;
}
