import { readFileSync, statSync } from 'node:fs';
import { Code, ConnectError, createClient, type Interceptor, type Transport } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { FirnError } from '@firn/errors';
import { profilestoreV1alpha1 } from '@firn/proto';
import { PermanentSendError, type SendFn } from './shipper';

export interface GatewayClientOptions {
  /** e.g. http://firn-gateway:4100 */
  baseUrl: string;
  token?: string;
  /** Re-read when it changes, so rotated Kubernetes secrets apply without a restart. */
  tokenFile?: string;
  timeoutMs: number;
}

/** Returns the bearer token, re-reading `tokenFile` when its mtime changes. */
export function tokenSource(opts: Pick<GatewayClientOptions, 'token' | 'tokenFile'>): () => string {
  if (!opts.tokenFile) {
    const t = opts.token ?? '';
    return () => t;
  }
  const file = opts.tokenFile;
  let mtime = -1;
  let token = '';
  return () => {
    try {
      const st = statSync(file);
      if (st.mtimeMs !== mtime) {
        token = readFileSync(file, 'utf8').trim();
        mtime = st.mtimeMs;
      }
    } catch (err) {
      if (!token) throw FirnError.unavailable(`cannot read token file ${file}: ${(err as Error).message}`);
    }
    return token;
  };
}

export function bearerInterceptor(token: () => string): Interceptor {
  return (next) => (req) => {
    const t = token();
    if (t) req.header.set('authorization', `Bearer ${t}`);
    return next(req);
  };
}

/** gRPC transport to the gateway (HTTP/2; plain text for http://, TLS for https://). */
export function gatewayTransport(opts: GatewayClientOptions): Transport {
  return createGrpcTransport({ baseUrl: opts.baseUrl, interceptors: [bearerInterceptor(tokenSource(opts))] });
}

/** WriteArrow as a SendFn: invalid_argument is permanent (retrying cannot help), the rest retry. */
export function writeArrowSender(transport: Transport, timeoutMs: number): SendFn {
  const client = createClient(profilestoreV1alpha1.ProfileStoreService, transport);
  return async (ipc, signal) => {
    try {
      await client.writeArrow({ ipcBuffer: ipc }, { timeoutMs, signal });
    } catch (err) {
      const ce = ConnectError.from(err);
      if (ce.code === Code.InvalidArgument) throw new PermanentSendError(`WriteArrow rejected: ${ce.rawMessage}`);
      throw ce;
    }
  };
}
