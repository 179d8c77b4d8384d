import { describe, expect, it } from 'vitest';
import { FirnError } from '@firn/errors';
import { isNetworkError, isNoSuchKey, toFirnError } from './s3-errors';

const sdkError = (name: string, status?: number) => Object.assign(new Error(`${name} happened`), { name, $metadata: { httpStatusCode: status } });

describe(toFirnError.name, () => {
  it('maps missing objects to not_found but a missing bucket to unavailable', () => {
    expect(toFirnError(sdkError('NoSuchKey', 404), 'get "k"').code).toBe('not_found');
    expect(toFirnError(sdkError('NotFound', 404), 'head "k"').code).toBe('not_found');
    expect(toFirnError(sdkError('NoSuchBucket', 404), 'get "k"').code).toBe('unavailable');
  });

  it('maps network failures, 5xx, throttling and credential errors to unavailable', () => {
    const reset = Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' });
    expect(toFirnError(reset, 'put').code).toBe('unavailable');
    expect(toFirnError(new Error('wrapped', { cause: reset }), 'put').code).toBe('unavailable');
    expect(toFirnError(sdkError('InternalError', 500), 'put').code).toBe('unavailable');
    expect(toFirnError(sdkError('SlowDown', 503), 'put').code).toBe('unavailable');
    expect(toFirnError(sdkError('TooManyRequests', 429), 'put').code).toBe('unavailable');
    expect(toFirnError(sdkError('InvalidAccessKeyId', 403), 'put').code).toBe('unavailable');
  });

  it('maps other client errors to internal and passes FirnErrors through', () => {
    expect(toFirnError(sdkError('MalformedXML', 400), 'put').code).toBe('internal');
    const own = FirnError.invalidArgument('bad key');
    expect(toFirnError(own, 'put')).toBe(own);
  });

  it('says what failed', () => {
    expect(toFirnError(sdkError('InternalError', 500), 'S3 put "k"').message).toMatch(/^S3 put "k": InternalError \(HTTP 500\)/);
  });
});

describe(isNoSuchKey.name, () => {
  it('recognises NoSuchKey, NotFound and bare 404 but not NoSuchBucket', () => {
    expect(isNoSuchKey(sdkError('NoSuchKey'))).toBe(true);
    expect(isNoSuchKey(sdkError('Unknown', 404))).toBe(true);
    expect(isNoSuchKey(sdkError('NoSuchBucket', 404))).toBe(false);
    expect(isNoSuchKey(new Error('x'))).toBe(false);
  });
});

describe(isNetworkError.name, () => {
  it('recognises socket error codes and SDK timeouts', () => {
    expect(isNetworkError(Object.assign(new Error('aborted'), { code: 'ECONNRESET' }))).toBe(true);
    expect(isNetworkError(Object.assign(new Error('t'), { name: 'TimeoutError' }))).toBe(true);
    expect(isNetworkError(sdkError('NoSuchKey', 404))).toBe(false);
  });
});
