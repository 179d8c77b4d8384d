import { FirnError } from '@firn/errors';
import { sanitizeLabelNames } from '@firn/profiles';
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
  // The one Pyroscope label-name rule (as /ingest and pprof sample labels); `__name__` is valid, so unchanged.
  let out: Array<[string, string]>;
  try {
    out = sanitizeLabelNames(labels);
  } catch (err) {
    if (err instanceof FirnError) throw FirnError.invalidArgument(`${series}: ${err.message}`);
    throw err;
  }
  const value = (name: string) => out.find(([n]) => n === name)?.[1];
  if (!value('service_name')) throw FirnError.invalidArgument(`${series}: labels must include service_name`);
  if (!value('__name__')) throw FirnError.invalidArgument(`${series}: labels must include __name__ (the profile name, e.g. process_cpu)`);
  return out;
}
