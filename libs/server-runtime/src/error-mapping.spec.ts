import { Code, ConnectError } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import { ErrorCode, FirnError } from '@firn/errors';
import { classify, toConnectError, toHttpError } from './error-mapping';

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
    [ErrorCode.ResourceExhausted, 429],
    [ErrorCode.Unavailable, 503],
    [ErrorCode.Internal, 500],
  ])('maps %s to HTTP %i', (code, status) => {
    expect(toHttpError(new FirnError(code, 'm')).status).toBe(status);
  });

  it('sets Retry-After and a JSON body naming the code', () => {
    const out = toHttpError(new FirnError(ErrorCode.ResourceExhausted, 'slow down', { details: { retry_after_seconds: 2 } }));
    expect(out.headers['retry-after']).toBe('2');
    expect(out.body).toEqual({ code: 'resource_exhausted', message: 'slow down', details: { retry_after_seconds: 2 } });
  });

  it('treats body-parser style 4xx errors as client errors', () => {
    const err = Object.assign(new Error('request entity too large'), { status: 413 });
    expect(toHttpError(err).status).toBe(429);
    expect(classify(err).unexpected).toBe(false);
  });
});

describe('HTTP status override', () => {
  it('uses a FirnError httpStatus over the code default', () => {
    expect(toHttpError(new FirnError(ErrorCode.ResourceExhausted, 'too big', { httpStatus: 413 })).status).toBe(413);
  });
});
