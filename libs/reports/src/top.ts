import { create } from '@bufbuild/protobuf';
import { parseProfileType, type Frame } from '@firn/profiles';
import { metastoreV1alpha1, queryV1alpha1 } from '@firn/proto';
import { locationRanges } from './locations';
import { diffValues } from './profile-input';
import type { StackProfile } from './stack-profile';

export interface TopOptions {
  /** Fill TopNode.diff with B - A (`values` - `base`); default: whether `base` is set. */
  diff?: boolean;
  /** DiffProfile.absolute: when false (Parca's default) the smaller side is scaled up first. */
  absolute?: boolean;
}

/** The fields of QueryResponse{top, total, filtered}. */
export interface TopReport {
  top: queryV1alpha1.Top;
  total: bigint;
  filtered: bigint;
}

interface Acc {
  cumulative: number;
  flat: number;
  diff: number;
  /** Identity of the first location seen; a second one drops the line, as upstream. */
  locationKey: string;
  frame: Frame;
  outer: Frame;
  multipleLocations: boolean;
  mappingsDiffer: boolean;
  order: number;
}

const mappingKey = (f: Frame): string => `${f.buildId}\u0000${f.mappingFile}`;

/**
 * Parca's TOP report (pkg/query/top.go): one node per function name (the innermost line of
 * each pprof location), unsymbolized locations per mapping + address; flat from the leaf
 * location, cumulative counted once per stack (upstream adds recursive frames twice); sorted
 * by flat descending, then address ascending.
 */
export function parcaTop(p: StackProfile, opts: TopOptions = {}): TopReport {
  const unit = parseProfileType(p.profileType).sampleUnit;
  const diffs = (opts.diff ?? p.base !== undefined) ? diffValues(p, opts.absolute ?? false) : null;
  const nodes = new Map<string, Acc>();
  const seen = new Set<string>();
  for (let s = 0; s < p.stacks.length; s++) {
    const v = p.values[s];
    const d = diffs ? diffs[s] : 0;
    if (v === 0 && d === 0) continue;
    const frames = p.stacks[s];
    const ranges = locationRanges(frames);
    seen.clear();
    for (let r = 0; r < ranges.length; r += 2) {
      const first = frames[ranges[r]];
      const outer = frames[ranges[r + 1] - 1];
      const unsymbolized = ranges[r + 1] - ranges[r] === 1 && first.functionName === '';
      const key = unsymbolized ? `a\u0000${mappingKey(outer)}\u0000${outer.address}` : `f\u0000${first.functionName}`;
      let locationKey = `${mappingKey(outer)}\u0000${outer.address}`;
      for (let i = ranges[r]; i < ranges[r + 1]; i++) locationKey += `\u0000${frames[i].functionName}\u0000${frames[i].line}`;
      let n = nodes.get(key);
      if (!n) {
        n = { cumulative: 0, flat: 0, diff: 0, locationKey, frame: first, outer, multipleLocations: false, mappingsDiffer: false, order: nodes.size };
        nodes.set(key, n);
      } else if (n.locationKey !== locationKey) {
        n.multipleLocations = true;
        if (mappingKey(n.outer) !== mappingKey(outer)) n.mappingsDiffer = true;
      }
      if (!seen.has(key)) {
        seen.add(key);
        n.cumulative += v;
        n.diff += d;
      }
      if (r === 0) n.flat += v;
    }
  }

  const mappingIds = new Map<string, string>();
  const functionIds = new Map<string, string>();
  let locationId = 0;
  const list = [...nodes.values()]
    .sort((a, b) => b.flat - a.flat || (a.outer.address < b.outer.address ? -1 : a.outer.address > b.outer.address ? 1 : 0) || a.order - b.order)
    .map((n) => {
      const hasMapping = n.outer.buildId !== '' || n.outer.mappingFile !== '';
      let mappingId = '';
      let mapping: metastoreV1alpha1.Mapping | undefined;
      if (hasMapping) {
        const mk = mappingKey(n.outer);
        mappingId = mappingIds.get(mk) ?? String(mappingIds.size + 1);
        mappingIds.set(mk, mappingId);
        mapping = n.mappingsDiffer
          ? create(metastoreV1alpha1.MappingSchema)
          : create(metastoreV1alpha1.MappingSchema, { id: mappingId, file: n.outer.mappingFile, buildId: n.outer.buildId, hasFunctions: n.frame.functionName !== '' });
      }
      const meta = create(queryV1alpha1.TopNodeMetaSchema, {
        mapping,
        location: { id: String(++locationId), address: BigInt.asUintN(64, n.outer.address), mappingId },
      });
      if (n.frame.functionName !== '') {
        const fk = `${n.frame.functionName}\u0000${n.frame.fileName}`;
        const functionId = functionIds.get(fk) ?? String(functionIds.size + 1);
        functionIds.set(fk, functionId);
        meta.function = create(metastoreV1alpha1.FunctionSchema, {
          id: functionId,
          name: n.frame.functionName,
          systemName: n.frame.functionName,
          filename: n.frame.fileName,
        });
        if (!n.multipleLocations) meta.line = create(metastoreV1alpha1.LineSchema, { functionId, line: BigInt(n.frame.line) });
      }
      return create(queryV1alpha1.TopNodeSchema, {
        meta,
        cumulative: BigInt(Math.round(n.cumulative)),
        flat: BigInt(Math.round(n.flat)),
        diff: BigInt(Math.round(n.diff)),
      });
    });

  const cumulative = Math.round(p.total);
  return {
    // Top.total is int32 upstream; `| 0` wraps like Go's int32 conversion.
    top: create(queryV1alpha1.TopSchema, { list, reported: list.length, total: cumulative | 0, unit }),
    total: BigInt(cumulative),
    filtered: 0n,
  };
}
