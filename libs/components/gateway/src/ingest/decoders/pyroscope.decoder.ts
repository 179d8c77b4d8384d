import { ErrorCode, FirnError } from '@firn/errors';
import { parsePyroscopeName, pyroscopeProfileType, samplesFromFolded, samplesFromPprof } from '@firn/profiles';
import type { DecodeContext, DecodedRequest, IngestDecoder, IngestFormat, IngestParams, IngestPart } from '../ingest-decoder';
import { assertUtf8QueryParam, parseIngestTime } from '../pyroscope-params';

/**
 * Pyroscope's `/ingest` body under its query parameters:
 * `name=app{k=v}&from=&until=&format=folded|pprof&sampleRate=`. pprof may come raw or as
 * multipart/form-data with a `profile` part.
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

  /** The `format` parameter (default folded); repeated parameters are refused. */
  static formatOf(q: IngestParams): string {
    return single(q, 'format') ?? 'folded';
  }

  async decode(parts: readonly IngestPart[], ctx: DecodeContext): Promise<DecodedRequest> {
    const [body] = parts;
    const q = ctx.params;
    assertUtf8QueryParam(this.url, 'name');
    const name = single(q, 'name');
    if (!name) throw FirnError.invalidArgument('query parameter "name" is required (e.g. name=my-app.cpu{env=prod})');
    const app = parsePyroscopeName(name);
    const fromMs = parseIngestTime(single(q, 'from'), 'from', ctx.nowMs);
    const untilMs = parseIngestTime(single(q, 'until'), 'until', fromMs);
    if (untilMs < fromMs) throw FirnError.invalidArgument(`"until" (${untilMs} ms) is before "from" (${fromMs} ms)`);
    const sampleRateRaw = single(q, 'sampleRate') ?? '100';
    const sampleRate = Number(sampleRateRaw);
    if (!Number.isInteger(sampleRate) || sampleRate <= 0 || sampleRate > 100_000) throw FirnError.invalidArgument(`"sampleRate" must be a positive integer (got ${JSON.stringify(sampleRateRaw)})`);
    const seriesLabels: Array<[string, string]> = [...app.labels.filter(([k]) => k !== 'service_name'), ['service_name', app.appName]];
    const limits = ctx.parser;

    if (this.rawFormat === 'folded') {
      return { batch: samplesFromFolded(body.bytes, { seriesLabels, fromMs, untilMs, sampleType: app.sampleType, sampleRate, limits }) };
    }
    if (this.rawFormat === 'pprof') {
      let pprof = body.bytes;
      let identity: IngestPart[] | undefined;
      if (body.contentType?.startsWith('multipart/form-data')) {
        // A client's retry may use a new random boundary: the fields, not the body, identify it.
        identity = await multipartFields(body.bytes, body.contentType);
        const part = identity.find((f) => f.what === 'profile');
        if (!part) throw FirnError.invalidArgument('multipart body has no "profile" part');
        pprof = part.bytes;
        await ctx.checkGzip(pprof, 'pprof');
      }
      return {
        batch: samplesFromPprof(pprof, {
          name: pyroscopeProfileType(app.sampleType, sampleRate).profileType.name,
          seriesLabels,
          nowMs: fromMs,
          fallbackDurationNs: (untilMs - fromMs) * 1e6,
          limits,
        }),
        identity,
      };
    }
    // Pyroscope also takes jfr, speedscope, trie, tree and lines; Firn does not (yet): 415 says so.
    throw new FirnError(ErrorCode.InvalidArgument, `unsupported format ${JSON.stringify(this.rawFormat)}: Firn's /ingest takes format=folded (the default) or format=pprof; for JFR, speedscope and other formats convert to pprof first`, {
      httpStatus: 415,
    });
  }
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
