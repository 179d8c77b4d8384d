import { Inject, Injectable, type OnModuleDestroy, type OnModuleInit } from '@nestjs/common';
import { create, type DescMessage, type DescMethodUnary, type DescService, type UnknownField } from '@bufbuild/protobuf';
import { EmptySchema } from '@bufbuild/protobuf/wkt';
import { Code, ConnectError, type HandlerContext, type ServiceImpl, type Transport } from '@connectrpc/connect';
import { FirnError } from '@firn/errors';
import type { Logger, Registry } from '@firn/observability';
import { EndpointSet, INTERNAL_TENANT_HEADER, INTERNAL_TOKEN_HEADER, TOKEN_STORE, internalGrpcTransport, worthAnotherEndpoint } from '@firn/platform';
import { firnInsightsV1, querierV1, queryV1alpha1 } from '@firn/proto';
import { LOGGER, METRICS, RpcRegistry, binaryResponse } from '@firn/server-runtime';
import { Scope, authInterceptor, principalOf, type TokenStore } from '@firn/tenancy';
import { QUERY_PROXY_OPTIONS, type QueryProxyOptions } from './query-proxy.options';
import { QueryProxyMetrics } from './query-proxy.metrics';

/** The public query services the queriers serve and the gateway fronts. */
const FORWARDED: DescService[] = [queryV1alpha1.QueryService, querierV1.QuerierService, firnInsightsV1.InsightsService];

/** A forwarded method, and the same call read with a response schema that has no fields (see `forward`). */
interface Forwarded {
  method: DescMethodUnary;
  undecoded: DescMethodUnary<DescMessage, typeof EmptySchema>;
}

/**
 * One public address for reads: the gateway serves Parca's QueryService, Pyroscope's
 * QuerierService and Firn's InsightsService (gRPC, gRPC-web and Connect, like every RPC here) by
 * forwarding each call to a querier. The caller's token is checked once, here; the querier gets the tenant as trusted
 * internal metadata with the shared internal token. Calls go round-robin over the queriers the
 * endpoint list names (a headless Service lists only ready pods), the caller's deadline and
 * cancellation travel with them, and a querier that is unavailable (restarting, gone) or whose
 * call died on the wire (a drain's GOAWAY race) is skipped for the next one: queries only read,
 * so trying another is safe (see worthAnotherEndpoint). A binary answer (what gRPC, gRPC-web and
 * Connect's protobuf codec ask for) is passed on as the querier encoded it, not decoded and
 * encoded again here.
 */
@Injectable()
export class QueryProxy implements OnModuleInit, OnModuleDestroy {
  private readonly endpoints: EndpointSet;
  private transports = new Map<string, Transport>();
  private next = 0;
  private readonly metrics: QueryProxyMetrics;

  constructor(
    private readonly rpc: RpcRegistry,
    @Inject(QUERY_PROXY_OPTIONS) private readonly opts: QueryProxyOptions,
    @Inject(TOKEN_STORE) private readonly tokens: TokenStore,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(METRICS) registry: Registry,
  ) {
    this.endpoints = new EndpointSet({ specs: opts.queriers, refreshMs: opts.refreshMs, log });
    this.endpoints.onChange((urls) => {
      const next = new Map<string, Transport>();
      for (const url of urls) next.set(url, this.transports.get(url) ?? internalGrpcTransport(url));
      this.transports = next;
    });
    this.metrics = new QueryProxyMetrics(registry);
  }

  async onModuleInit(): Promise<void> {
    // No readiness check on the queriers: ingest must go on while no querier answers; reads then
    // get UNAVAILABLE.
    await this.endpoints.start();
    for (const service of FORWARDED) {
      const impl: Record<string, (req: unknown, ctx: HandlerContext) => Promise<unknown>> = {};
      for (const method of service.methods) {
        if (method.methodKind !== 'unary') continue;
        const unary = method as DescMethodUnary;
        const f: Forwarded = { method: unary, undecoded: { ...unary, output: EmptySchema } };
        impl[method.localName] = (req, ctx) => this.forward(f, req, ctx);
      }
      this.rpc.add(service, impl as unknown as Partial<ServiceImpl<DescService>>, { interceptors: [authInterceptor(this.tokens, Scope.ReadProfiles)] });
    }
  }

  onModuleDestroy(): void {
    this.endpoints.close();
  }

  /**
   * For a binary response the querier's answer is read as a message without fields, so all of it
   * stays as the encoded bytes of its fields (the message's unknown fields, views of the bytes
   * received), and is returned as the method's own message with nothing set but those: the
   * runtime writes them out as they are. Decoding and encoding it again would cost the gateway
   * what it cost the querier (a BigInt per int64 of a Grafana flame graph or a pprof profile).
   * JSON callers get the answer decoded and encoded as JSON, which unknown fields do not survive.
   */
  private async forward(f: Forwarded, req: unknown, ctx: HandlerContext): Promise<unknown> {
    const tenant = principalOf(ctx, Scope.ReadProfiles).tenant;
    const binary = binaryResponse(ctx);
    const urls = [...this.transports.keys()];
    if (urls.length === 0) {
      this.metrics.forwarded.inc({ code: 'unavailable' });
      throw FirnError.unavailable('no querier is available');
    }
    const headers = { [INTERNAL_TOKEN_HEADER]: this.opts.internalToken, [INTERNAL_TENANT_HEADER]: tenant };
    const attempts = Math.min(urls.length, this.opts.retries + 1);
    const start = this.next++ % urls.length;
    let last: unknown;
    for (let i = 0; i < attempts; i++) {
      const url = urls[(start + i) % urls.length];
      const transport = this.transports.get(url);
      if (!transport) continue;
      try {
        // The remaining deadline of the caller, not a fresh one: a retry never outlives it.
        const res = await transport.unary(binary ? f.undecoded : f.method, ctx.signal, ctx.timeoutMs(), headers, req as never);
        this.metrics.forwarded.inc({ code: 'ok' });
        if (!binary) return res.message;
        const $unknown: UnknownField[] | undefined = res.message.$unknown;
        return Object.assign(create(f.method.output), { $unknown });
      } catch (err) {
        last = err;
        const ce = ConnectError.from(err);
        if (!worthAnotherEndpoint(ce, ctx.signal)) {
          this.metrics.forwarded.inc({ code: Code[ce.code]?.toLowerCase() ?? 'unknown' });
          throw err;
        }
        this.log.warn({ querier: url, err: ce.rawMessage }, 'querier unavailable or the call died on the wire; trying another');
        if (i + 1 < attempts) this.metrics.retried.inc();
      }
    }
    this.metrics.forwarded.inc({ code: 'unavailable' });
    throw last;
  }
}
