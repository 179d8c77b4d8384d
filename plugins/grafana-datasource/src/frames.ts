import { createDataFrame, DataFrame, FieldType } from '@grafana/data';
import type { FlameGraphDiffWire, FlameGraphWire, SeriesWire } from './firn-api';
import { profileTypeParts } from './selector';

/**
 * Grafana's unit id for a profile type's sample unit; Grafana's flame graph reads `ns` and
 * `bytes` (anything else is a count) to title its tooltip.
 */
export function unitOf(profileTypeId: string): string {
  switch (profileTypeParts(profileTypeId)?.sampleUnit) {
    case 'nanoseconds':
      return 'ns';
    case 'microseconds':
      return 'µs';
    case 'milliseconds':
      return 'ms';
    case 'seconds':
      return 's';
    case 'bytes':
      return 'bytes';
    default:
      return 'short';
  }
}

interface Node {
  /** Position on the level's axis (for a diff: left + right, so every node is wider than zero). */
  x: number;
  width: number;
  name: number;
  total: number;
  self: number;
  totalRight: number;
  selfRight: number;
}

/**
 * Decodes Pyroscope's levels (x offsets delta-encoded against the previous node's end on the
 * same level) into absolute nodes, sorted by x on each level.
 */
function decodeLevels(levels: number[][], diff: boolean): Node[][] {
  return levels.map((values) => {
    const nodes: Node[] = [];
    let endL = 0;
    let endR = 0;
    const stride = diff ? 7 : 4;
    for (let i = 0; i + stride <= values.length; i += stride) {
      if (diff) {
        const xl = endL + values[i];
        const xr = endR + values[i + 3];
        endL = xl + values[i + 1];
        endR = xr + values[i + 4];
        nodes.push({
          x: xl + xr,
          width: values[i + 1] + values[i + 4],
          total: values[i + 1],
          self: values[i + 2],
          totalRight: values[i + 4],
          selfRight: values[i + 5],
          name: values[i + 6],
        });
      } else {
        const x = endL + values[i];
        endL = x + values[i + 1];
        nodes.push({ x, width: values[i + 1], total: values[i + 1], self: values[i + 2], totalRight: 0, selfRight: 0, name: values[i + 3] });
      }
    }
    return nodes;
  });
}

interface NestedSet {
  level: number[];
  value: number[];
  self: number[];
  label: string[];
  valueRight: number[];
  selfRight: number[];
}

/**
 * Walks the levels depth first: a node's children are the nodes of the next level inside its
 * [x, x + width) span. Visiting parents left to right visits each level's nodes left to right,
 * so one cursor per level finds every child once (linear in the node count).
 */
function toNestedSet(fg: FlameGraphWire, diff: boolean): NestedSet {
  const out: NestedSet = { level: [], value: [], self: [], label: [], valueRight: [], selfRight: [] };
  const levels = decodeLevels(fg.levels, diff);
  if (levels.length === 0 || levels[0].length === 0) return out;
  const cursor = levels.map(() => 0);
  const visit = (node: Node, level: number): void => {
    out.level.push(level);
    out.value.push(node.total);
    out.self.push(node.self);
    out.label.push(fg.names[node.name] ?? String(node.name));
    out.valueRight.push(node.totalRight);
    out.selfRight.push(node.selfRight);
    const next = levels[level + 1];
    if (!next) return;
    const end = node.x + node.width;
    while (cursor[level + 1] < next.length && next[cursor[level + 1]].x < end) {
      const child = next[cursor[level + 1]++];
      if (child.x >= node.x) visit(child, level + 1);
    }
  };
  // An iterative walk would avoid deep recursion, but levels are bounded by Firn's stack-depth
  // limit (1000 frames by default), well within the JS stack.
  for (const root of levels[0]) {
    cursor[0]++;
    visit(root, 0);
  }
  return out;
}

/**
 * A flame graph in the nested-set frame Grafana's flame graph panel reads (the shape Grafana's
 * own Pyroscope data source returns): rows depth first, `level` = depth, `value` = total,
 * `self`, `label`; values in the profile type's unit.
 */
export function flameGraphFrame(fg: FlameGraphWire, profileTypeId: string, refId: string): DataFrame {
  const ns = toNestedSet(fg, false);
  const unit = unitOf(profileTypeId);
  return createDataFrame({
    refId,
    name: 'response',
    meta: { preferredVisualisationType: 'flamegraph', custom: { profileTypeId } },
    fields: [
      { name: 'level', type: FieldType.number, values: ns.level },
      { name: 'value', type: FieldType.number, values: ns.value, config: { unit } },
      { name: 'self', type: FieldType.number, values: ns.self, config: { unit } },
      { name: 'label', type: FieldType.string, values: ns.label },
    ],
  });
}

/**
 * A diff flame graph as Grafana's flame graph panel reads it: `value`/`self` for the baseline
 * (left) and `valueRight`/`selfRight` for the comparison; a node's width is the sum of both.
 */
export function diffFlameGraphFrame(fg: FlameGraphDiffWire, profileTypeId: string, refId: string): DataFrame {
  const ns = toNestedSet(fg, true);
  const unit = unitOf(profileTypeId);
  return createDataFrame({
    refId,
    name: 'response',
    meta: { preferredVisualisationType: 'flamegraph', custom: { profileTypeId, diff: true, baselineTotal: fg.leftTicks, comparisonTotal: fg.rightTicks } },
    fields: [
      { name: 'level', type: FieldType.number, values: ns.level },
      { name: 'value', type: FieldType.number, values: ns.value, config: { unit } },
      { name: 'self', type: FieldType.number, values: ns.self, config: { unit } },
      { name: 'label', type: FieldType.string, values: ns.label },
      { name: 'valueRight', type: FieldType.number, values: ns.valueRight, config: { unit } },
      { name: 'selfRight', type: FieldType.number, values: ns.selfRight, config: { unit } },
    ],
  });
}

function labelKey(s: SeriesWire): string {
  return s.labels
    .map((l) => `${l.name}=${l.value}`)
    .sort()
    .join('\u0000');
}

/**
 * One time series frame per Firn series (series may cover different timestamps): a time field
 * and a value field carrying the series labels, in the profile type's unit, summed per step.
 * The display name is the group-by label values, so a "CPU by namespace" legend reads
 * `checkout`, `search`, … Frames are ordered by labels (Firn returns series in scan order), so
 * legends and colours stay put between refreshes.
 */
export function seriesFrames(series: SeriesWire[], profileTypeId: string, groupBy: string[], refId: string): DataFrame[] {
  const unit = unitOf(profileTypeId);
  const valueName = profileTypeParts(profileTypeId)?.sampleType || 'value';
  const ordered = [...series].sort((a, b) => (labelKey(a) < labelKey(b) ? -1 : labelKey(a) > labelKey(b) ? 1 : 0));
  return ordered.map((s) => {
    const labels = Object.fromEntries(s.labels.map((l) => [l.name, l.value]));
    const grouped = groupBy.filter((g) => g in labels).map((g) => labels[g]);
    const points = [...s.points].sort((a, b) => a.timestamp - b.timestamp);
    return createDataFrame({
      refId,
      name: 'series',
      meta: { preferredVisualisationType: 'graph', custom: { profileTypeId } },
      fields: [
        { name: 'time', type: FieldType.time, values: points.map((p) => p.timestamp) },
        {
          name: valueName,
          type: FieldType.number,
          values: points.map((p) => p.value),
          labels,
          config: { unit, ...(grouped.length > 0 ? { displayNameFromDS: grouped.join(', ') } : {}) },
        },
      ],
    });
  });
}
