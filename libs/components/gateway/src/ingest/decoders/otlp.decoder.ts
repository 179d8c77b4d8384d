import { fromJson, toBinary, type JsonValue } from '@bufbuild/protobuf';
import { ErrorCode, FirnError } from '@firn/errors';
import { samplesFromOtlp } from '@firn/profiles';
import { otlpCollectorProfilesV1development as collector } from '@firn/proto';
import type { DecodeContext, DecodedRequest, IngestDecoder, IngestPart } from '../ingest-decoder';

/**
 * OTLP/JSON is parsed into objects before it can be read, unlike the protobuf form (read in
 * place), so it gets a smaller cap: OTLP exporters send protobuf; JSON is for people and tests.
 */
export const MAX_OTLP_JSON_BYTES = 8 * 1024 * 1024;

export type OtlpEncoding = 'protobuf' | 'json';

/**
 * An OTLP `ExportProfilesServiceRequest` (gRPC, Connect or OTLP/HTTP protobuf, or OTLP/JSON).
 * Profiles that break a rule are refused one by one and reported as OTLP partial success; see
 * `samplesFromOtlp` for the mapping to Firn's labels and profile types.
 */
export class OtlpDecoder implements IngestDecoder {
  readonly format = 'otlp';

  constructor(private readonly encoding: OtlpEncoding) {}

  decode(parts: readonly IngestPart[], ctx: DecodeContext): DecodedRequest {
    const [part] = parts;
    const bytes = this.encoding === 'json' ? jsonToBinary(part.bytes) : part.bytes;
    const decoded = samplesFromOtlp(bytes, { nowMs: ctx.nowMs, limits: ctx.parser });
    const { rejectedProfiles, errors } = decoded;
    return {
      batch: decoded,
      partial: rejectedProfiles > 0 ? { rejected: rejectedProfiles, message: `${rejectedProfiles} profile(s) rejected: ${errors.join('; ')}` } : undefined,
    };
  }
}

/**
 * OTLP/JSON → protobuf bytes. OTLP/JSON differs from canonical proto3 JSON in one way that
 * matters here: trace and span ids are hex, not base64 (they are only carried, never stored).
 */
function jsonToBinary(bytes: Uint8Array): Uint8Array {
  if (bytes.length > MAX_OTLP_JSON_BYTES) {
    throw new FirnError(
      ErrorCode.ResourceExhausted,
      `OTLP/JSON body of ${bytes.length} bytes is larger than ${MAX_OTLP_JSON_BYTES} bytes; send OTLP protobuf for larger requests`,
      {
        details: { limit: 'max_otlp_json_bytes' },
        httpStatus: 413,
      },
    );
  }
  let json: JsonValue;
  try {
    json = JSON.parse(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8')) as JsonValue;
  } catch (err) {
    throw FirnError.invalidArgument(`malformed OTLP/JSON: ${(err as Error).message}`);
  }
  hexIdsToBase64(json);
  try {
    return toBinary(collector.ExportProfilesServiceRequestSchema, fromJson(collector.ExportProfilesServiceRequestSchema, json, { ignoreUnknownFields: true }));
  } catch (err) {
    throw FirnError.invalidArgument(`malformed OTLP/JSON: ${(err as Error).message}`);
  }
}

const HEX = /^(?:[0-9a-fA-F]{2})*$/;

function hexIdsToBase64(json: JsonValue): void {
  if (!json || typeof json !== 'object' || Array.isArray(json)) return;
  const dictionary = json['dictionary'];
  if (!dictionary || typeof dictionary !== 'object' || Array.isArray(dictionary)) return;
  const links = dictionary['linkTable'] ?? dictionary['link_table'];
  if (!Array.isArray(links)) return;
  for (const link of links) {
    if (!link || typeof link !== 'object' || Array.isArray(link)) continue;
    for (const k of ['traceId', 'trace_id', 'spanId', 'span_id']) {
      const v = link[k];
      if (typeof v === 'string' && HEX.test(v)) link[k] = Buffer.from(v, 'hex').toString('base64');
    }
  }
}
