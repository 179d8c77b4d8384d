import { create, toBinary } from '@bufbuild/protobuf';
import { FirnError } from '@firn/errors';
import { googleV1 } from '@firn/proto';
import { gzipSync } from 'node:zlib';
import { parseProfileType } from './profile-type';
import type { Frame, SampleBatch } from './sample-batch';

export interface ToPprofOptions {
  /** Emit series labels as pprof string labels on each sample (default true). */
  includeLabels?: boolean;
}

/**
 * Encodes the rows of one profile type as a gzip pprof (the PPROF report). Rows with the same
 * series and stack are summed across timestamps. Consecutive frames `inlined, …, inlined,
 * outermost` become one pprof location with several lines, the inverse of samplesFromPprof.
 * time_nanos is the earliest row, duration_nanos spans to the end of the latest row's window.
 * Each mapping's has_functions / has_filenames / has_line_numbers / has_inline_frames hold when
 * every location of it in this profile has them; the unnamed ones are counted by `unnamedReason`
 * in the profile's comments.
 */
export function samplesToPprof(batch: SampleBatch, profileType: string, opts: ToPprofOptions = {}): Uint8Array {
  return gzipPprof(samplesToPprofMessage(batch, profileType, opts));
}

/** A Profile as pprof files and the PPROF report carry it: encoded, gzipped. */
export function gzipPprof(profile: googleV1.Profile): Uint8Array {
  return gzipSync(toBinary(googleV1.ProfileSchema, profile));
}

/** samplesToPprof's Profile as a message, for a caller that sends it as one (Pyroscope's SelectMergeProfile). */
export function samplesToPprofMessage(batch: SampleBatch, profileType: string, opts: ToPprofOptions = {}): googleV1.Profile {
  const includeLabels = opts.includeLabels ?? true;
  const pt = parseProfileType(profileType);
  const ptIdx = batch.profileTypes.indexOf(profileType);

  const strings: string[] = [''];
  const stringIdx = new Map<string, number>([['', 0]]);
  const s = (v: string): bigint => {
    let i = stringIdx.get(v);
    if (i === undefined) {
      i = strings.length;
      strings.push(v);
      stringIdx.set(v, i);
    }
    return BigInt(i);
  };

  const mappings: googleV1.Mapping[] = [];
  const mappingIdx = new Map<string, bigint>();
  const functions: googleV1.Function[] = [];
  const functionIdx = new Map<string, bigint>();
  const locations: googleV1.Location[] = [];
  const locationIdx = new Map<string, bigint>();

  // Starts "fully resolved"; each location of the mapping clears what it lacks (see resolve()).
  const mappingId = (f: Frame): bigint => {
    if (f.buildId === '' && f.mappingFile === '') return 0n;
    const key = `${f.buildId}\u0000${f.mappingFile}`;
    let id = mappingIdx.get(key);
    if (id === undefined) {
      id = BigInt(mappings.length + 1);
      mappings.push(
        create(googleV1.MappingSchema, {
          id,
          filename: s(f.mappingFile),
          buildId: s(f.buildId),
          hasFunctions: true,
          hasFilenames: true,
          hasLineNumbers: true,
          hasInlineFrames: true,
        }),
      );
      mappingIdx.set(key, id);
    }
    return id;
  };
  /** Unnamed locations per mapping id (0 = none) and reason, for the profile's comments. */
  const unnamed = new Map<bigint, Map<string, number>>();
  const resolve = (mid: bigint, group: Frame[], unsymbolized: boolean) => {
    if (unsymbolized) {
      const why = group[group.length - 1].unnamedReason ?? 'unknown';
      let byWhy = unnamed.get(mid);
      if (!byWhy) unnamed.set(mid, (byWhy = new Map()));
      byWhy.set(why, (byWhy.get(why) ?? 0) + 1);
    }
    if (mid === 0n) return;
    const m = mappings[Number(mid) - 1];
    if (unsymbolized || group.some((f) => f.functionName === '')) m.hasFunctions = false;
    if (unsymbolized || group.some((f) => f.fileName === '')) m.hasFilenames = false;
    // Lines come only from sources that also resolve inlined calls (DWARF via addr2line -i, Go's
    // inline tree); names from symbol tables carry neither.
    if (unsymbolized || group.some((f) => f.line <= 0)) m.hasLineNumbers = m.hasInlineFrames = false;
  };
  const functionId = (f: Frame): bigint => {
    if (f.functionName === '' && f.fileName === '') return 0n;
    const key = `${f.functionName}\u0000${f.systemName ?? ''}\u0000${f.fileName}`;
    let id = functionIdx.get(key);
    if (id === undefined) {
      id = BigInt(functions.length + 1);
      functions.push(create(googleV1.FunctionSchema, { id, name: s(f.functionName), systemName: s(f.systemName ?? f.functionName), filename: s(f.fileName) }));
      functionIdx.set(key, id);
    }
    return id;
  };
  // A frame object alone in its group (no inlined callees: nearly every frame), once it has its
  // location: stacks share frame objects, and the content key below costs a string per frame
  // occurrence (≈ 0.4 s for a fleet hour's 500 k occurrences).
  const soleFrameLocation = new Map<Frame, bigint>();
  const locationId = (group: Frame[]): bigint => {
    if (group.length === 1) {
      const known = soleFrameLocation.get(group[0]);
      if (known !== undefined) return known;
      const id = locationIdByContent(group);
      soleFrameLocation.set(group[0], id);
      return id;
    }
    return locationIdByContent(group);
  };
  const locationIdByContent = (group: Frame[]): bigint => {
    const outer = group[group.length - 1];
    let key = `${outer.buildId}\u0000${outer.mappingFile}\u0000${outer.address}`;
    for (const f of group) key += `\u0000${f.functionName}\u0000${f.fileName}\u0000${f.line}`;
    let id = locationIdx.get(key);
    if (id === undefined) {
      id = BigInt(locations.length + 1);
      const unsymbolized = group.length === 1 && outer.functionName === '' && outer.fileName === '' && outer.line === 0;
      const mid = mappingId(outer);
      resolve(mid, group, unsymbolized);
      locations.push(
        create(googleV1.LocationSchema, {
          id,
          mappingId: mid,
          address: outer.address,
          line: unsymbolized ? [] : group.map((f) => ({ functionId: functionId(f), line: BigInt(f.line) })),
        }),
      );
      locationIdx.set(key, id);
    }
    return id;
  };
  const stackLocations = new Map<number, bigint[]>();
  const locationsOf = (stackIdx: number): bigint[] => {
    let ids = stackLocations.get(stackIdx);
    if (ids === undefined) {
      ids = [];
      let group: Frame[] = [];
      for (const f of batch.stacks[stackIdx]) {
        group.push(f);
        if (!f.inlined) {
          ids.push(locationId(group));
          group = [];
        }
      }
      // A trailing run of inlined frames with no outer frame (truncated stack) still needs a home.
      if (group.length > 0) ids.push(locationId(group));
      stackLocations.set(stackIdx, ids);
    }
    return ids;
  };

  const sums = new Map<string, { series: number; stack: number; value: number }>();
  let minTs = Infinity;
  let maxEnd = -Infinity;
  let period = 0;
  if (ptIdx >= 0) {
    for (let i = 0; i < batch.length; i++) {
      if (batch.profileType[i] !== ptIdx) continue;
      const series = includeLabels ? batch.seriesIdx[i] : 0;
      const key = `${series},${batch.stack[i]}`;
      const cur = sums.get(key);
      if (cur) cur.value += batch.value[i];
      else sums.set(key, { series, stack: batch.stack[i], value: batch.value[i] });
      const ts = batch.timestampMs[i];
      if (ts < minTs) minTs = ts;
      const end = ts * 1e6 + batch.durationNs[i];
      if (end > maxEnd) maxEnd = end;
      if (period === 0) period = batch.periodNs[i];
    }
  }

  const samples: googleV1.Sample[] = [];
  for (const { series, stack, value } of sums.values()) {
    if (!Number.isSafeInteger(value)) throw FirnError.internal(`summed sample value ${value} exceeds 2^53`);
    samples.push(
      create(googleV1.SampleSchema, {
        locationId: locationsOf(stack),
        value: [BigInt(value)],
        label: includeLabels ? batch.series[series].map(([k, v]) => ({ key: s(k), str: s(v) })) : [],
      }),
    );
  }

  // Why locations have no function name, one comment per mapping (`go tool pprof -raw` and
  // `-comments` print them); the mapping's has_* flags above say the same per mapping.
  const comment: bigint[] = [];
  for (const [mid, byWhy] of unnamed) {
    const m = mid === 0n ? undefined : mappings[Number(mid) - 1];
    const what = m ? `${strings[Number(m.filename)] || '?'}${m.buildId ? ` build_id=${strings[Number(m.buildId)]}` : ''}` : '(no mapping)';
    const whys = [...byWhy].map(([why, n]) => `${why}=${n}`).join(' ');
    comment.push(s(`firn: unnamed locations of ${what}: ${whys}`));
  }

  return create(googleV1.ProfileSchema, {
    sampleType: [{ type: s(pt.sampleType), unit: s(pt.sampleUnit) }],
    periodType: { type: s(pt.periodType), unit: s(pt.periodUnit) },
    period: BigInt(Math.round(period)),
    timeNanos: Number.isFinite(minTs) ? BigInt(minTs) * 1_000_000n : 0n,
    durationNanos: Number.isFinite(minTs) ? BigInt(Math.max(0, Math.round(maxEnd - minTs * 1e6))) : 0n,
    sample: samples,
    mapping: mappings,
    location: locations,
    function: functions,
    stringTable: strings,
    comment,
  });
}
