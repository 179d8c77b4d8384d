import { samplesFromPprof, type SampleBatch } from '@firn/profiles';
import type { DecodeContext, DecodedRequest, IngestDecoder, IngestPart } from '../ingest-decoder';

/**
 * A pprof profile the scraper fetched from a Go `net/http/pprof` endpoint: named after the
 * endpoint (`process_cpu`, `memory`, …), labelled with the target's labels, then turned into
 * deltas where Go reports totals (`transform`, the scraper's per-target state).
 */
export class ScrapeDecoder implements IngestDecoder {
  readonly format = 'pprof';

  constructor(
    private readonly name: string,
    private readonly labels: ReadonlyArray<readonly [string, string]>,
    private readonly transform: (b: SampleBatch) => SampleBatch,
  ) {}

  decode(parts: readonly IngestPart[], ctx: DecodeContext): DecodedRequest {
    const decoded = samplesFromPprof(parts[0].bytes, { name: this.name, seriesLabels: this.labels, nowMs: ctx.nowMs, limits: ctx.parser });
    const batch = this.transform(decoded);
    return { batch: Object.assign(batch, { truncatedStacks: decoded.truncatedStacks }) };
  }
}
