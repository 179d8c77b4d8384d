import { FirnError } from '@firn/errors';
import { SampleBatchBuilder, pprofIntoBuilder } from '@firn/profiles';
import type { DecodeContext, DecodedRequest, IngestDecoder, IngestPart } from '../ingest-decoder';

/**
 * pprof profiles, each with the labels of its series (Parca's WriteRaw): the series' `__name__`
 * names its profiles and every pprof sample type becomes a profile type; the other series
 * labels win over pprof sample labels of the same name.
 *
 * Every profile of a request is decoded into one builder, so frames, stacks and series that
 * several profiles share are interned once, and the request's series and stack-frame limits
 * count the whole request.
 */
export class PprofSeriesDecoder implements IngestDecoder {
  readonly format = 'pprof';

  decode(parts: readonly IngestPart[], ctx: DecodeContext): DecodedRequest {
    const builder = new SampleBatchBuilder({ initialCapacity: 1024, maxSeries: ctx.parser.maxSeries, maxStackFrames: ctx.parser.maxStackFrames });
    let truncatedStacks = 0;
    for (const part of parts) {
      const labels = part.labels ?? [];
      const name = labels.find(([n]) => n === '__name__')?.[1];
      if (!name) throw FirnError.invalidArgument(`${seriesOf(part.what)}: labels must include __name__ (the profile name, e.g. parca_agent)`);
      try {
        truncatedStacks += pprofIntoBuilder(
          part.bytes,
          { name, seriesLabels: labels.filter(([n]) => n !== '__name__'), nowMs: ctx.nowMs, limits: ctx.parser },
          builder,
        );
      } catch (err) {
        if (err instanceof FirnError) throw new FirnError(err.code, `${part.what}: ${err.message}`, { details: err.details, httpStatus: err.httpStatus });
        throw err;
      }
    }
    return { batch: Object.assign(builder.build(), { truncatedStacks }) };
  }
}

/** `series[3].samples[1]` → `series[3]`. */
function seriesOf(what: string): string {
  return what.replace(/\.samples\[\d+\]$/, '');
}
