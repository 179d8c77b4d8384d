import { samplesFromArrow } from '@firn/profiles';
import type { DecodeContext, DecodedRequest, IngestDecoder, IngestPart } from '../ingest-decoder';

/**
 * firn.samples.v1 Arrow IPC (WriteArrow, what Firn's agent sends). A buffer that decodes without
 * truncation is appended as received: re-encoding was a quarter of the gateway's CPU for agent
 * writes, and the ingester decodes it with the same validating reader.
 */
export class ArrowDecoder implements IngestDecoder {
  readonly format = 'arrow';

  decode(parts: readonly IngestPart[], ctx: DecodeContext): DecodedRequest {
    const [part] = parts;
    const p = ctx.parser;
    const batch = samplesFromArrow(part.bytes, {
      maxRows: p.maxSamples,
      maxStackDepth: p.maxStackDepth,
      maxBytes: ctx.maxBytes,
      maxSymbols: p.maxSymbols,
      maxSeries: p.maxSeries,
      maxStackFrames: p.maxStackFrames,
    });
    return { batch, encoded: parts.length === 1 && batch.truncatedStacks === 0 ? part.bytes : undefined };
  }
}
