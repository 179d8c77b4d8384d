import { FirnError } from '@firn/errors';
import { sanitizeLabelName } from '@firn/profiles';
import type { DecodeContext, DecodedRequest, IngestDecoder, IngestPart } from '../ingest-decoder';
import { PprofSeriesDecoder } from './pprof-series.decoder';

/**
 * Pyroscope's `push.v1.PusherService/Push`, as Grafana Alloy's `pyroscope.write` and the
 * Pyroscope SDKs send it: pprof profiles per series whose `__name__` label names the profile
 * (`process_cpu`, `memory`, …) and `service_name` the application. Like Pyroscope, label names
 * are sanitised (`.` and other characters → `_`) rather than refused, and a series without
 * `service_name` is refused. Then every pprof sample type becomes a profile type, as for WriteRaw.
 */
export class PushDecoder implements IngestDecoder {
  readonly format = 'pprof';
  private readonly pprof = new PprofSeriesDecoder();

  decode(parts: readonly IngestPart[], ctx: DecodeContext): DecodedRequest {
    return this.pprof.decode(
      parts.map((p) => ({ ...p, labels: pushLabels(p.labels ?? [], p.what) })),
      ctx,
    );
  }
}

function pushLabels(labels: ReadonlyArray<readonly [string, string]>, what: string): Array<[string, string]> {
  const series = what.replace(/\.samples\[\d+\]$/, '');
  const out = new Map<string, string>();
  for (const [name, value] of labels) {
    const clean = name === '__name__' ? name : sanitizeLabelName(name);
    const prev = out.get(clean);
    if (prev !== undefined && prev !== value) {
      throw FirnError.invalidArgument(`${series}: labels "${name}" and another label both become "${clean}" after sanitising, with different values`);
    }
    out.set(clean, value);
  }
  if (!out.get('service_name')) throw FirnError.invalidArgument(`${series}: labels must include service_name`);
  if (!out.get('__name__')) throw FirnError.invalidArgument(`${series}: labels must include __name__ (the profile name, e.g. process_cpu)`);
  return [...out.entries()];
}
