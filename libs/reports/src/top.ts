import { create } from '@bufbuild/protobuf';
import { parseProfileType, type Frame } from '@firn/profiles';
import { metastoreV1alpha1, queryV1alpha1 } from '@firn/proto';
import { addressKey, diffValues, internStacks, keyIds } from './profile-input';
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
  /** First and outer frame of the first location seen; another location drops the line. */
  firstFid: number;
  outerFid: number;
  frame: Frame;
  outer: Frame;
  multipleLocations: boolean;
  mappingsDiffer: boolean;
  order: number;
  /** Last stack counted into cumulative (a stack counts once per node). */
  lastStack: number;
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
  const { frames, stacks } = internStacks(p);
  // A location is named by its first (innermost) frame: the key depends on that frame alone.
  const { ids: nodeKey, count } = keyIds(
    frames,
    (f) => f.functionName,
    addressKey, // unsymbolized frames: one node per mapping + address
  );
  const nodeOfKey: Array<Acc | undefined> = new Array<Acc | undefined>(count);
  const nodes: Acc[] = [];
  for (let s = 0; s < stacks.length; s++) {
    const v = p.values[s];
    const d = diffs ? diffs[s] : 0;
    if (v === 0 && d === 0) continue;
    const ids = stacks[s];
    let start = 0;
    for (let i = 0; i < ids.length; i++) {
      // A location ends at its outermost (non-inlined) frame, or at the end of the stack.
      if (frames[ids[i]].inlined && i < ids.length - 1) continue;
      const firstFid = ids[start];
      const outerFid = ids[i];
      const isLeaf = start === 0;
      start = i + 1;
      let n = nodeOfKey[nodeKey[firstFid]];
      if (!n) {
        n = {
          cumulative: 0,
          flat: 0,
          diff: 0,
          firstFid,
          outerFid,
          frame: frames[firstFid],
          outer: frames[outerFid],
          multipleLocations: false,
          mappingsDiffer: false,
          order: nodes.length,
          lastStack: -1,
        };
        nodeOfKey[nodeKey[firstFid]] = n;
        nodes.push(n);
      } else if (n.firstFid !== firstFid || n.outerFid !== outerFid) {
        const o = frames[outerFid];
        if (n.frame.line !== frames[firstFid].line || n.outer.address !== o.address || mappingKey(n.outer) !== mappingKey(o)) n.multipleLocations = true;
        if (mappingKey(n.outer) !== mappingKey(o)) n.mappingsDiffer = true;
      }
      if (n.lastStack !== s) {
        n.lastStack = s;
        n.cumulative += v;
        n.diff += d;
      }
      if (isLeaf) n.flat += v;
    }
  }

  const mappingIds = new Map<string, string>();
  const functionIds = new Map<string, string>();
  let locationId = 0;
  const list = nodes
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
          : create(metastoreV1alpha1.MappingSchema, { id: mappingId, file: n.outer.mappingFile, buildId: n.outer.buildId, ...resolution(n.frame) });
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
          systemName: n.frame.systemName ?? n.frame.functionName,
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

/**
 * pprof's "resolution of symbolic info" flags for one node's mapping. Line numbers come only from
 * sources that also resolve inlined calls (DWARF through addr2line -i, Go's inline tree), so a
 * line implies inline frames were resolved; names from symbol tables carry neither.
 */
function resolution(f: Frame): Pick<metastoreV1alpha1.Mapping, 'hasFunctions' | 'hasFilenames' | 'hasLineNumbers' | 'hasInlineFrames'> {
  return { hasFunctions: f.functionName !== '', hasFilenames: f.fileName !== '', hasLineNumbers: f.line > 0, hasInlineFrames: f.line > 0 };
}
