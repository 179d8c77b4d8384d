import type { TenantLimits } from '@firn/limits';
import type { PprofLimits, SampleBatch } from '@firn/profiles';

/** Wire format of a request: the `source` label of the gateway's ingest metrics. */
export type IngestFormat = 'pprof' | 'arrow' | 'folded' | 'otlp';

/**
 * One piece of a request as the client sent it: a WriteRaw sample, a WriteArrow buffer, an
 * `/ingest` body. The pipeline size-checks and inflates parts before a decoder sees them.
 */
export interface IngestPart {
  /** Names the part in error messages (`series[0].samples[1]`, `request body`). */
  what: string;
  bytes: Uint8Array;
  /** Labels the envelope attaches to this part (WriteRaw series labels, including `__name__`). */
  labels?: ReadonlyArray<readonly [string, string]>;
  /** HTTP `Content-Encoding` of the bytes; the pipeline removes it (gzip, capped) or refuses it (415). */
  contentEncoding?: string;
  /** HTTP `Content-Type` (e.g. a multipart boundary), for decoders that need it. */
  contentType?: string;
}

/** Request parameters as received (HTTP query string); they can change what the bytes mean. */
export type IngestParams = Readonly<Record<string, string | readonly string[] | undefined>>;

export interface DecodeContext {
  /** The tenant's limits, for checks a decoder can make while reading. */
  limits: TenantLimits;
  /** The same limits as the profile decoders in @firn/profiles take them. */
  parser: PprofLimits;
  /** The largest payload worth decoding (the request size limit). */
  maxBytes: number;
  /** Receive time: placed on samples that carry no time of their own. */
  nowMs: number;
  params: IngestParams;
  /**
   * Inflates gzip bytes a decoder found inside a part (a multipart field) under the tenant's cap
   * and the in-flight budget; other bytes come back as they are.
   */
  gunzip(bytes: Uint8Array, what: string): Promise<Uint8Array>;
}

/** What the pipeline checks of a request's samples (labels, series, time window) and counts (rows, truncated stacks). */
export type BatchShape = Pick<SampleBatch, 'length' | 'series' | 'timestampMs'> & { truncatedStacks?: number };

/**
 * A decoded request: its samples as a batch (appended as `encoded` when given, else encoded from
 * the batch), or only checked (`checked`: validated as a decode would, never built; `encoded`,
 * the request's own bytes, is appended).
 */
export type DecodedRequest = DecodedParts &
  (
    | {
        batch: SampleBatch & { truncatedStacks?: number };
        /**
         * The request's own firn.samples.v1 bytes when they decode to exactly `batch` (validated,
         * nothing truncated): appended as they are instead of re-encoding the batch.
         */
        encoded?: Uint8Array;
        checked?: undefined;
      }
    | { checked: BatchShape; encoded: Uint8Array; batch?: undefined }
  );

interface DecodedParts {
  /**
   * The request's content without its transport framing, when that framing changes between
   * retries (multipart fields without their random boundary). Default: the parts as received.
   * Part of the request's identity (request-identity.ts).
   */
  identity?: readonly IngestPart[];
  /**
   * Parts of the request the decoder refused while storing the rest (OTLP partial success): how
   * many profiles, and why.
   */
  partial?: { rejected: number; message: string };
}

/**
 * Turns the parts of one request into one normalized SampleBatch. Decoders are pure
 * (no I/O, no metrics): limits, inflation, checks, counting and the append are the pipeline's.
 */
export interface IngestDecoder {
  readonly format: IngestFormat;
  decode(parts: readonly IngestPart[], ctx: DecodeContext): DecodedRequest | Promise<DecodedRequest>;
}
