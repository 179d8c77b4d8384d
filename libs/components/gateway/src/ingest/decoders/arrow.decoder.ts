import { checkSamplesArrow, samplesFromArrow, type ArrowLimits } from '@firn/profiles';
import type { DecodeContext, DecodedRequest, IngestDecoder, IngestPart } from '../ingest-decoder';

/**
 * firn.samples.v1 Arrow IPC (WriteArrow, what Firn's agent sends). A buffer that decodes without
 * truncation is appended as received: re-encoding was a quarter of the gateway's CPU for agent
 * writes, and the ingester decodes it with the same validating reader. Usually it is only
 * checked (checkSamplesArrow: every refusal and limit of a decode, frames and stacks not interned,
 * about two thirds of a decode's CPU); a decode builds the batch when the check cannot tell (a stack to
 * truncate, the stack-frames limit) and always for more than one part.
 */
export class ArrowDecoder implements IngestDecoder {
  readonly format = 'arrow';

  decode(parts: readonly IngestPart[], ctx: DecodeContext): DecodedRequest {
    const [part] = parts;
    const p = ctx.parser;
    const limits: ArrowLimits = {
      maxRows: p.maxSamples,
      maxStackDepth: p.maxStackDepth,
      maxBytes: ctx.maxBytes,
      maxSymbols: p.maxSymbols,
      maxSeries: p.maxSeries,
      maxStackFrames: p.maxStackFrames,
    };
    const checked = parts.length === 1 ? checkSamplesArrow(part.bytes, limits) : undefined;
    if (checked) return { checked, encoded: part.bytes };
    const batch = samplesFromArrow(part.bytes, limits);
    return { batch, encoded: parts.length === 1 && batch.truncatedStacks === 0 ? part.bytes : undefined };
  }
}
