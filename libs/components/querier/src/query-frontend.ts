import { Inject, Injectable, type OnModuleInit } from '@nestjs/common';
import { create } from '@bufbuild/protobuf';
import { createClient, type Client, type HandlerContext } from '@connectrpc/connect';
import { createGrpcTransport } from '@connectrpc/connect-node';
import { ErrorCode, FirnError } from '@firn/errors';
import type { ManifestLog } from '@firn/manifest';
import { Counter, Histogram, metricName, type Logger, type Registry } from '@firn/observability';
import { MANIFEST_LOG } from '@firn/platform';
import { firnQueryV1 } from '@firn/proto';
import { NO_SYMBOLS, QueryEngine, StackAccumulator, decodePartial, encodePartial, symbolize, type PartialAggregate, type PlannedQuery, type Side, type SymbolResolver } from '@firn/query';
import type { StackProfile } from '@firn/reports';
import { LOGGER, METRICS, RpcRegistry } from '@firn/server-runtime';
import type { TenantId } from '@firn/tenancy';
import { INTERNAL_TENANT_HEADER, INTERNAL_TOKEN_HEADER, internalAuthInterceptor, internalTenantOf } from './internal-auth';
import { QUERIER_OPTIONS, QUERY_ENGINE, type QuerierOptions } from './querier.options';

interface Selection {
  selector: string;
  startMs: number;
  endMs: number;
}

/**
 * Query front: plans a query from the manifest, splits its segments across this querier and its
 * peers (`--querier-peers`), and merges the partial aggregates they return. Only aggregates cross
 * the network, never raw rows. Also serves the peers' side (`firn.query.v1.PartialQueryService`).
 * Enforces the query timeout and the per-query segment limit.
 */
@Injectable()
export class QueryFrontend implements OnModuleInit {
  private readonly peers: Array<Client<typeof firnQueryV1.PartialQueryService>>;
  private readonly fanOuts: Counter<'peers'>;
  private readonly shareSeconds: Histogram<'where'>;

  constructor(
    private readonly rpc: RpcRegistry,
    @Inject(QUERY_ENGINE) private readonly engine: QueryEngine,
    @Inject(MANIFEST_LOG) private readonly manifest: ManifestLog,
    @Inject(QUERIER_OPTIONS) private readonly opts: QuerierOptions,
    @Inject(LOGGER) private readonly log: Logger,
    @Inject(METRICS) registry: Registry,
  ) {
    this.peers = opts.peers.map((baseUrl) => createClient(firnQueryV1.PartialQueryService, createGrpcTransport({ baseUrl })));
    this.fanOuts = new Counter({ name: metricName('querier', 'fanout_queries_total'), help: 'Queries split across peer queriers, by number of peers.', labelNames: ['peers'], registers: [registry] });
    this.shareSeconds = new Histogram({ name: metricName('querier', 'share_seconds'), help: 'Time to scan one share of a query, here or on a peer.', labelNames: ['where'], buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30], registers: [registry] });
  }

  onModuleInit(): void {
    this.rpc.add(firnQueryV1.PartialQueryService, { partial: (req, ctx) => this.servePartial(req, ctx) }, { interceptors: [internalAuthInterceptor(this.opts.internalToken)] });
  }

  /** Hook for the symbolizer: one batched lookup per query (NO_SYMBOLS until it lands). */
  private symbols: SymbolResolver = NO_SYMBOLS;

  useSymbols(resolver: SymbolResolver): void {
    this.symbols = resolver;
  }

  async mergeStacks(tenant: TenantId, sel: Selection, signal: AbortSignal): Promise<StackProfile> {
    if (this.peers.length === 0) {
      // Alone: the engine's sums become the profile directly, without a partial in between.
      const plan = this.checkedPlan(tenant, sel);
      return symbolize(tenant, await this.engine.mergeStacks(tenant, sel.selector, sel.startMs, sel.endMs, { segments: plan.segments, signal }), this.symbols);
    }
    const acc = new StackAccumulator();
    const profileType = await this.accumulate(acc, tenant, sel, 'value', signal);
    return symbolize(tenant, acc.toStackProfile(profileType), this.symbols);
  }

  async diff(tenant: TenantId, a: Selection, b: Selection, signal: AbortSignal): Promise<StackProfile> {
    const acc = new StackAccumulator();
    await this.accumulate(acc, tenant, a, 'base', signal);
    const profileType = await this.accumulate(acc, tenant, b, 'value', signal);
    return symbolize(tenant, acc.toStackProfile(profileType), this.symbols);
  }

  /** The request's signal, ended also by the query timeout (→ DEADLINE_EXCEEDED). */
  deadline(ctx: HandlerContext): AbortSignal {
    return AbortSignal.any([ctx.signal, AbortSignal.timeout(this.opts.queryTimeoutMs)]);
  }

  /** Runs `fn`; if the deadline fired, reports DEADLINE_EXCEEDED naming the limit. */
  async withDeadline<T>(signal: AbortSignal, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (err) {
      if (signal.aborted && signal.reason instanceof DOMException && signal.reason.name === 'TimeoutError') {
        throw new FirnError(ErrorCode.DeadlineExceeded, `query took longer than ${this.opts.queryTimeoutMs} ms`, { details: { limit: 'query_timeout' } });
      }
      throw err;
    }
  }

  /** The plan of a selection, refused when it names an unknown profile type or too many segments. */
  private checkedPlan(tenant: TenantId, sel: Selection): PlannedQuery {
    const plan = this.engine.segmentsFor(tenant, sel.selector, sel.startMs, sel.endMs);
    if (plan.segments.length === 0) this.checkKnownType(tenant, plan.profileType);
    if (plan.segments.length > this.opts.maxSegments) {
      throw new FirnError(ErrorCode.ResourceExhausted, `query needs ${plan.segments.length} segments, more than the limit of ${this.opts.maxSegments}; narrow the time range or selector`, {
        details: { limit: 'max_query_segments' },
      });
    }
    return plan;
  }

  private async accumulate(acc: StackAccumulator, tenant: TenantId, sel: Selection, side: Side, signal: AbortSignal): Promise<string> {
    const plan = this.checkedPlan(tenant, sel);
    const ways = Math.min(this.peers.length + 1, Math.max(1, plan.segments.length));
    const shares = Array.from({ length: ways }, () => [] as typeof plan.segments);
    plan.segments.forEach((s, i) => shares[i % ways].push(s));
    if (ways > 1) this.fanOuts.inc({ peers: String(ways - 1) });
    const partials = await Promise.all(
      shares.map(async (segments, i): Promise<PartialAggregate> => {
        const end = this.shareSeconds.startTimer({ where: i === 0 ? 'local' : 'peer' });
        try {
          if (i === 0) return await this.engine.partial(tenant, sel.selector, sel.startMs, sel.endMs, { segments, signal });
          const res = await this.peers[i - 1].partial(
            create(firnQueryV1.PartialRequestSchema, { selector: sel.selector, startMs: BigInt(sel.startMs), endMs: BigInt(sel.endMs), segmentIds: segments.map((s) => s.id) }),
            { signal, headers: { [INTERNAL_TOKEN_HEADER]: this.opts.internalToken, [INTERNAL_TENANT_HEADER]: tenant } },
          );
          return decodePartial(res.partial);
        } finally {
          end();
        }
      }),
    );
    for (const p of partials) acc.addPartial(p, side);
    return plan.profileType;
  }

  /**
   * A well-formed profile type this tenant has never stored is almost always a typo: say so
   * (INVALID_ARGUMENT, listing what exists) instead of returning an empty flame graph.
   */
  checkKnownType(tenant: TenantId, profileType: string): void {
    const known = this.engine.profileTypes(tenant, { startMs: 0, endMs: Number.MAX_SAFE_INTEGER });
    if (known.length > 0 && !known.includes(profileType)) {
      const list = known.slice(0, 10).join(', ') + (known.length > 10 ? ', …' : '');
      throw FirnError.invalidArgument(`unknown profile type ${profileType}; this tenant has: ${list}`);
    }
  }

  private async servePartial(req: firnQueryV1.PartialRequest, ctx: HandlerContext): Promise<firnQueryV1.PartialResponse> {
    const tenant = internalTenantOf(ctx);
    const resolve = () => req.segmentIds.map((id) => this.manifest.state.entry(tenant, id)?.meta);
    let metas = resolve();
    if (metas.some((m) => !m)) {
      // The caller's view may be ahead of ours: catch up once before giving up.
      await this.manifest.syncToLatest();
      metas = resolve();
    }
    const missing = req.segmentIds.filter((_, i) => !metas[i]);
    if (missing.length > 0) throw FirnError.unavailable(`segments unknown to this querier: ${missing.slice(0, 3).join(', ')}`);
    const partial = await this.engine.partial(tenant, req.selector, Number(req.startMs), Number(req.endMs), { segments: metas.filter((m) => m !== undefined), signal: ctx.signal });
    this.log.debug({ segments: metas.length }, 'served a partial query');
    return create(firnQueryV1.PartialResponseSchema, { partial: encodePartial(partial), segments: metas.length });
  }
}
