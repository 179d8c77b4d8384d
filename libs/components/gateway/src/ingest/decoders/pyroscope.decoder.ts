import { ErrorCode, FirnError } from '@firn/errors';
import { parseSampleTypeConfig, pyroscopeProfileName, pyroscopeSeriesLabels, samplesFromFolded, samplesFromPprof, type SampleTypeConfig } from '@firn/profiles';
import type { DecodeContext, DecodedRequest, IngestDecoder, IngestFormat, IngestParams, IngestPart } from '../ingest-decoder';
import { assertUtf8QueryParam, parseIngestTime } from '../pyroscope-params';

/**
 * Pyroscope's `/ingest` body under its query parameters:
 * `name=app{k=v}&from=&until=&format=folded|pprof&sampleRate=`. pprof may come raw or as
 * multipart/form-data with a `profile` part (and pyroscope-go's `sample_type_config`). Series
 * labels and profile names are Pyroscope's (@firn/profiles pyroscopeSeriesLabels and
 * pyroscopeProfileName), so SDK uploads land under the profile type ids Grafana asks for.
 */
export class PyroscopeIngestDecoder implements IngestDecoder {
  readonly format: IngestFormat;

  /** `url`: the raw request URL, to refuse a `name` whose escapes are not UTF-8. */
  constructor(
    private readonly rawFormat: string,
    private readonly url: string | undefined,
  ) {
    this.format = rawFormat === 'pprof' ? 'pprof' : 'folded';
  }

  /**
   * The `format` parameter; repeated parameters are refused. Without one, a multipart body is
   * pprof (as Pyroscope reads pyroscope-go and pyroscope-java uploads), anything else folded.
   */
  static formatOf(q: IngestParams, contentType?: string): string {
    return single(q, 'format') ?? (isMultipart(contentType) ? 'pprof' : 'folded');
  }

  async decode(parts: readonly IngestPart[], ctx: DecodeContext): Promise<DecodedRequest> {
    const [body] = parts;
    const q = ctx.params;
    assertUtf8QueryParam(this.url, 'name');
    const name = single(q, 'name');
    if (!name) throw FirnError.invalidArgument('query parameter "name" is required (e.g. name=my-app.cpu{env=prod})');
    const app = pyroscopeSeriesLabels({ name, format: this.format === 'pprof' ? 'pprof' : 'folded', spyName: single(q, 'spyName') });
    const fromMs = parseIngestTime(single(q, 'from'), 'from', ctx.nowMs);
    const untilMs = parseIngestTime(single(q, 'until'), 'until', fromMs);
    if (untilMs < fromMs) throw FirnError.invalidArgument(`"until" (${untilMs} ms) is before "from" (${fromMs} ms)`);
    const sampleRateRaw = single(q, 'sampleRate') ?? '100';
    const sampleRate = Number(sampleRateRaw);
    if (!Number.isInteger(sampleRate) || sampleRate <= 0 || sampleRate > 100_000)
      throw FirnError.invalidArgument(`"sampleRate" must be a positive integer (got ${JSON.stringify(sampleRateRaw)})`);
    const seriesLabels = app.labels;
    const limits = ctx.parser;

    if (this.rawFormat === 'folded') {
      return { batch: samplesFromFolded(body.bytes, { seriesLabels, fromMs, untilMs, sampleType: app.sampleType, sampleRate, limits }) };
    }
    if (this.rawFormat === 'pprof') {
      let pprof = body.bytes;
      let identity: IngestPart[] | undefined;
      let sampleTypeConfig: Record<string, SampleTypeConfig> | undefined;
      if (body.contentType && isMultipart(body.contentType)) {
        // A client's retry may use a new random boundary: the fields, not the body, identify it.
        identity = await multipartFields(body.bytes, body.contentType);
        const field = (what: string) => identity?.find((f) => f.what === what)?.bytes;
        const part = field('profile');
        if (!part) throw FirnError.invalidArgument('multipart body has no "profile" part');
        // Pyroscope refuses these too: cumulative profiles from clients older than godeltaprof.
        if (field('prev_profile')?.length)
          throw FirnError.invalidArgument('multipart "prev_profile" is not supported: update the client (current pyroscope-go versions send delta profiles)');
        const config = field('sample_type_config');
        if (config?.length) sampleTypeConfig = parseSampleTypeConfig(Buffer.from(config).toString('utf8'));
        pprof = await ctx.gunzip(part, 'pprof');
      }
      return {
        batch: samplesFromPprof(pprof, {
          name: (sampleTypes) => pyroscopeProfileName(sampleTypes, sampleTypeConfig),
          seriesLabels,
          nowMs: fromMs,
          fallbackDurationNs: (untilMs - fromMs) * 1e6,
          limits,
        }),
        identity,
      };
    }
    // Pyroscope also takes jfr, speedscope, trie, tree and lines; Firn does not (yet): 415 says so.
    throw new FirnError(
      ErrorCode.InvalidArgument,
      `unsupported format ${JSON.stringify(this.rawFormat)}: Firn's /ingest takes format=folded (the default) or format=pprof; for JFR, speedscope and other formats convert to pprof first`,
      {
        httpStatus: 415,
      },
    );
  }
}

function isMultipart(contentType: string | undefined): boolean {
  return contentType?.toLowerCase().startsWith('multipart/form-data') ?? false;
}

function single(q: IngestParams, key: string): string | undefined {
  const v = q[key];
  if (Array.isArray(v)) throw FirnError.invalidArgument(`query parameter "${key}" given more than once`);
  return v as string | undefined;
}

/** Every field of a multipart/form-data body, in order, as parts named after the field. */
async function multipartFields(body: Uint8Array, contentType: string): Promise<IngestPart[]> {
  let form: FormData;
  try {
    form = await new Request('http://firn.invalid/', { method: 'POST', headers: { 'content-type': contentType }, body }).formData();
  } catch (err) {
    throw FirnError.invalidArgument(`malformed multipart body: ${(err as Error).message}`);
  }
  const out: IngestPart[] = [];
  for (const [name, value] of form.entries()) {
    out.push({ what: name, bytes: typeof value === 'string' ? Buffer.from(value, 'latin1') : new Uint8Array(await value.arrayBuffer()) });
  }
  return out;
}
