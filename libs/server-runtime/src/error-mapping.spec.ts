import { Code, ConnectError } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import { ErrorCode, FirnError } from '@firn/errors';
import { DEFAULT_RETRY_AFTER_SECONDS, classify, retryAfterOf, toConnectError, toHttpError } from './error-mapping';

describe(toConnectError.name, () => {
  it.each([
    [ErrorCode.InvalidArgument, Code.InvalidArgument],
    [ErrorCode.Unauthenticated, Code.Unauthenticated],
    [ErrorCode.PermissionDenied, Code.PermissionDenied],
    [ErrorCode.NotFound, Code.NotFound],
    [ErrorCode.ResourceExhausted, Code.ResourceExhausted],
    [ErrorCode.Unavailable, Code.Unavailable],
  ])('maps %s to gRPC %s with the message intact', (code, grpc) => {
    const e = toConnectError(new FirnError(code, 'what went wrong'));
    expect(e.code).toBe(grpc);
    expect(e.rawMessage).toBe('what went wrong');
  });

  it('hides the internals of unexpected errors', () => {
    const e = toConnectError(new Error('password=hunter2 at db.ts:12'));
    expect(e.code).toBe(Code.Internal);
    expect(e.rawMessage).toBe('internal error');
    expect(classify(new Error('x')).unexpected).toBe(true);
  });

  it('carries limit details and retry-after as metadata', () => {
    const e = toConnectError(new FirnError(ErrorCode.ResourceExhausted, 'over limit', { details: { limit: 'ingest_rate', retry_after_seconds: 3 } }));
    expect(e.metadata.get('firn-limit')).toBe('ingest_rate');
    expect(e.metadata.get('retry-after')).toBe('3');
  });

  it('hides the message of an INTERNAL ConnectError (a library or downstream failure)', () => {
    const e = toConnectError(new ConnectError('parse binary: premature EOF', Code.Internal));
    expect(e.code).toBe(Code.Internal);
    expect(e.rawMessage).toBe('internal error');
    expect(classify(new ConnectError('x', Code.Unknown)).unexpected).toBe(true);
  });

  it('passes ConnectErrors through with their code', () => {
    expect(toConnectError(new ConnectError('nope', Code.NotFound)).code).toBe(Code.NotFound);
  });
});

describe(toHttpError.name, () => {
  it.each([
    [ErrorCode.InvalidArgument, 400],
    [ErrorCode.Unauthenticated, 401],
    [ErrorCode.PermissionDenied, 403],
    [ErrorCode.NotFound, 404],
    [ErrorCode.ResourceExhausted, 413],
    [ErrorCode.Unavailable, 503],
    [ErrorCode.Internal, 500],
  ])('maps %s (without details) to HTTP %i', (code, status) => {
    expect(toHttpError(new FirnError(code, 'm')).status).toBe(status);
  });

  it('sets Retry-After and a JSON body naming the code', () => {
    const out = toHttpError(new FirnError(ErrorCode.ResourceExhausted, 'slow down', { details: { retry_after_seconds: 2 } }));
    expect(out.headers['retry-after']).toBe('2');
    expect(out.body).toEqual({ code: 'resource_exhausted', message: 'slow down', details: { retry_after_seconds: 2 } });
  });

  it('treats body-parser style 4xx errors as client errors, keeping their status', () => {
    const err = Object.assign(new Error('request entity too large'), { status: 413 });
    expect(toHttpError(err).status).toBe(413);
    expect(classify(err).unexpected).toBe(false);
  });

  it('answers 429 with Retry-After only for a wait, 413 for a size limit, and 503 always with Retry-After', () => {
    const rate = toHttpError(new FirnError(ErrorCode.ResourceExhausted, 'slow down', { details: { limit: 'ingest_rate_bytes', retry_after_seconds: 4 } }));
    expect([rate.status, rate.headers['retry-after']]).toEqual([429, '4']);
    const size = toHttpError(new FirnError(ErrorCode.ResourceExhausted, 'too big', { details: { limit: 'max_profile_bytes' } }));
    expect([size.status, size.headers['retry-after']]).toEqual([413, undefined]);
    const down = toHttpError(FirnError.unavailable('NATS is disconnected'));
    expect([down.status, down.headers['retry-after']]).toEqual([503, String(DEFAULT_RETRY_AFTER_SECONDS)]);
    expect(toHttpError(FirnError.invalidArgument('bad')).headers['retry-after']).toBeUndefined();
  });
});

describe(retryAfterOf.name, () => {
  it('gives UNAVAILABLE a default wait and keeps a stated one, over gRPC too', () => {
    expect(toConnectError(FirnError.unavailable('down')).metadata.get('retry-after')).toBe(String(DEFAULT_RETRY_AFTER_SECONDS));
    expect(toConnectError(new FirnError(ErrorCode.Unavailable, 'down', { details: { retry_after_seconds: 5 } })).metadata.get('retry-after')).toBe('5');
    expect(toConnectError(new FirnError(ErrorCode.ResourceExhausted, 'too big')).metadata.get('retry-after')).toBeNull();
  });
});

describe('HTTP status override', () => {
  it('uses a FirnError httpStatus over the code default', () => {
    expect(toHttpError(new FirnError(ErrorCode.ResourceExhausted, 'too big', { httpStatus: 413 })).status).toBe(413);
  });
});
