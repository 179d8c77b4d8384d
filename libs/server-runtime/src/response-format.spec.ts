import { createHandlerContext } from '@connectrpc/connect';
import { describe, expect, it } from 'vitest';
import { querierV1 } from '@firn/proto';
import { binaryResponse } from './response-format';

describe(binaryResponse.name, () => {
  const ctx = (contentType: string) =>
    createHandlerContext({
      service: querierV1.QuerierService,
      method: querierV1.QuerierService.method.selectMergeStacktraces,
      protocolName: 'connect',
      requestMethod: 'POST',
      url: 'http://localhost/querier.v1.QuerierService/SelectMergeStacktraces',
      requestHeader: { 'content-type': contentType },
    });

  it('is true for the binary codecs of Connect, gRPC and gRPC-web, false for JSON', () => {
    for (const t of ['application/proto', 'application/grpc', 'application/grpc+proto', 'application/grpc-web+proto', 'application/connect+proto']) {
      expect(binaryResponse(ctx(t)), t).toBe(true);
    }
    for (const t of ['application/json', 'application/json; charset=utf-8', 'application/grpc-web+json', 'application/connect+json']) {
      expect(binaryResponse(ctx(t)), t).toBe(false);
    }
  });
});
