import { Controller, Headers, HttpCode, Inject, Post, Query, Req } from '@nestjs/common';
import type { IncomingMessage } from 'node:http';
import { ErrorCode, FirnError } from '@firn/errors';
import { TOKEN_STORE } from '@firn/platform';
import { parseSampleTypeConfig, pyroscopeProfileName, pyroscopeSeriesLabels, samplesFromFolded, samplesFromPprof, type SampleBatch, type SampleTypeConfig } from '@firn/profiles';
import type { TenantLimits } from '@firn/limits';
import { checkGunzipSize, maybeGunzip } from '@firn/profiles';
import { Scope, authenticate, requireScope, type TokenStore } from '@firn/tenancy';
import { GATEWAY_OPTIONS, type GatewayOptions } from '../gateway.options';
import { IngestLimits } from './ingest-limits';
import { IngestService } from './ingest.service';
import { assertUtf8QueryParam, parseIngestTime } from './pyroscope-params';

/**
 * Pyroscope's push endpoint, so Pyroscope SDKs and `curl --data-binary @x.folded` work:
 * `POST /ingest?name=app{k=v}&from=&until=&format=folded|pprof&sampleRate=`.
 * pprof may come raw (any content type) or as multipart/form-data with a `profile` part.
 */
@Controller()
export class PyroscopeIngestController {
  constructor(
    private readonly ingest: IngestService,
    @Inject(TOKEN_STORE) private readonly tokens: TokenStore,
    @Inject(GATEWAY_OPTIONS) private readonly opts: GatewayOptions,
    private readonly limits: IngestLimits,
  ) {}

  @Post('ingest')
  @HttpCode(200)
  async push(
    @Req() req: IncomingMessage,
    @Headers('authorization') authorization: string | undefined,
    @Headers('content-type') contentType: string | undefined,
    @Query() q: Record<string, string | string[] | undefined>,
    @Headers('content-encoding') contentEncoding?: string,
  ): Promise<Record<string, never>> {
    const principal = await authenticate(this.tokens, authorization);
    requireScope(principal, Scope.WriteProfiles);
    const tenant = principal.tenant;
    // Like Pyroscope: a multipart body without a format is pprof (pyroscope-go, pyroscope-java).
    const format = single(q, 'format') ?? (contentType?.startsWith('multipart/form-data') ? 'pprof' : 'folded');
    const source = format === 'pprof' ? 'pprof' : 'folded';
    let batch: SampleBatch;
    try {
      const raw = await readBody(req, this.limits.maxBodyBytes(tenant, this.opts.maxRequestBytes));
      const l = this.limits.admit(tenant, raw.length);
      // An un-encoded pprof body is checked once, in parse, like a multipart part.
      if (format !== 'pprof' || contentEncoding) await checkGunzipSize(raw, l.maxDecompressedBytes, 'request body');
      const body = decodeContent(raw, contentEncoding, l.maxDecompressedBytes);
      assertUtf8QueryParam(req.url, 'name');
      batch = await this.parse(body, q, format, contentType, l);
      this.limits.checkBatch(tenant, batch, l);
    } catch (err) {
      this.ingest.countRejected(source, err);
      this.limits.countRejection(tenant, err);
      throw err;
    }
    await this.ingest.ingest(principal.tenant, batch, source);
    return {};
  }

  private async parse(body: Buffer, q: Record<string, string | string[] | undefined>, format: string, contentType: string | undefined, l: TenantLimits): Promise<SampleBatch> {
    const name = single(q, 'name');
    if (!name) throw FirnError.invalidArgument('query parameter "name" is required (e.g. name=my-app.cpu{env=prod})');
    const app = pyroscopeSeriesLabels({ name, format: format === 'pprof' ? 'pprof' : 'folded', spyName: single(q, 'spyName') });
    const nowMs = Date.now();
    const fromMs = parseIngestTime(single(q, 'from'), 'from', nowMs);
    const untilMs = parseIngestTime(single(q, 'until'), 'until', fromMs);
    if (untilMs < fromMs) throw FirnError.invalidArgument(`"until" (${untilMs} ms) is before "from" (${fromMs} ms)`);
    const sampleRateRaw = single(q, 'sampleRate') ?? '100';
    const sampleRate = Number(sampleRateRaw);
    if (!Number.isInteger(sampleRate) || sampleRate <= 0 || sampleRate > 100_000) throw FirnError.invalidArgument(`"sampleRate" must be a positive integer (got ${JSON.stringify(sampleRateRaw)})`);
    const seriesLabels = app.labels;
    const limits = this.limits.parserLimits(l);

    if (format === 'folded') {
      return samplesFromFolded(body.toString('utf8'), { seriesLabels, fromMs, untilMs, sampleType: app.sampleType, sampleRate, limits });
    }
    if (format === 'pprof') {
      const { pprof, sampleTypeConfig } = contentType?.startsWith('multipart/form-data') ? await pprofParts(body, contentType) : { pprof: body, sampleTypeConfig: undefined };
      await checkGunzipSize(pprof, limits.maxDecompressedBytes, 'pprof');
      return samplesFromPprof(pprof, {
        name: (sampleTypes) => pyroscopeProfileName(sampleTypes, sampleTypeConfig),
        seriesLabels,
        nowMs: fromMs,
        fallbackDurationNs: (untilMs - fromMs) * 1e6,
        limits,
      });
    }
    throw FirnError.invalidArgument(`unsupported format ${JSON.stringify(format)}: use folded or pprof`);
  }
}

function single(q: Record<string, string | string[] | undefined>, key: string): string | undefined {
  const v = q[key];
  if (Array.isArray(v)) throw FirnError.invalidArgument(`query parameter "${key}" given more than once`);
  return v;
}

/** Reads the request body, refusing (413) beyond `max` bytes without buffering the excess. */
export async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > max) throw tooLarge(max);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > max) {
      req.destroy();
      throw tooLarge(max);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks, size);
}

/**
 * Content-Encoding of the body: gzip is inflated (capped like any profile); anything else is
 * refused with 415 (Node 20's zlib has no zstd; Pyroscope SDKs send gzip or nothing).
 */
function decodeContent(body: Buffer, encoding: string | undefined, maxBytes: number): Buffer {
  const e = (encoding ?? '').trim().toLowerCase();
  if (e === '' || e === 'identity') return body;
  if (e === 'gzip' || e === 'x-gzip') {
    const out = maybeGunzip(body, maxBytes, 'request body');
    if (out === body) throw FirnError.invalidArgument('Content-Encoding says gzip but the body is not gzip');
    return Buffer.from(out.buffer, out.byteOffset, out.byteLength);
  }
  throw new FirnError(ErrorCode.InvalidArgument, `unsupported Content-Encoding ${JSON.stringify(e)}: send gzip or an uncompressed body`, { httpStatus: 415 });
}

function tooLarge(max: number): FirnError {
  return new FirnError(ErrorCode.ResourceExhausted, `request body larger than ${max} bytes`, { details: { limit: 'max_request_bytes' }, httpStatus: 413 });
}

/** The parts of a multipart pprof upload, as Pyroscope reads them (`profile`, `prev_profile`, `sample_type_config`). */
async function pprofParts(body: Buffer, contentType: string): Promise<{ pprof: Uint8Array; sampleTypeConfig?: Record<string, SampleTypeConfig> }> {
  let form: FormData;
  try {
    form = await new Request('http://firn.invalid/', { method: 'POST', headers: { 'content-type': contentType }, body }).formData();
  } catch (err) {
    throw FirnError.invalidArgument(`malformed multipart body: ${(err as Error).message}`);
  }
  const bytes = async (field: string): Promise<Uint8Array | undefined> => {
    const part = form.get(field);
    if (part === null) return undefined;
    return typeof part === 'string' ? Buffer.from(part, 'latin1') : new Uint8Array(await part.arrayBuffer());
  };
  const pprof = await bytes('profile');
  if (pprof === undefined) throw FirnError.invalidArgument('multipart body has no "profile" part');
  // Pyroscope refuses these too: cumulative profiles from clients older than godeltaprof.
  if ((await bytes('prev_profile'))?.length) throw FirnError.invalidArgument('multipart "prev_profile" is not supported: update the client (current pyroscope-go versions send delta profiles)');
  const config = await bytes('sample_type_config');
  return { pprof, sampleTypeConfig: config?.length ? parseSampleTypeConfig(Buffer.from(config).toString('utf8')) : undefined };
}
