import type { queryV1alpha1 } from '@firn/proto';

const trim = (n: number): string => n.toFixed(2).replace(/\.?0+$/, '');

/** A value in its sample unit, scaled for reading the way `go tool pprof` does (1.5s, 12MiB). */
export function formatValue(v: number, unit: string): string {
  const a = Math.abs(v);
  if (v === 0) return '0';
  switch (unit) {
    case 'nanoseconds':
      if (a >= 1e9) return `${trim(v / 1e9)}s`;
      if (a >= 1e6) return `${trim(v / 1e6)}ms`;
      if (a >= 1e3) return `${trim(v / 1e3)}us`;
      return `${v}ns`;
    case 'bytes':
      if (a >= 2 ** 30) return `${trim(v / 2 ** 30)}GiB`;
      if (a >= 2 ** 20) return `${trim(v / 2 ** 20)}MiB`;
      if (a >= 2 ** 10) return `${trim(v / 2 ** 10)}KiB`;
      return `${v}B`;
    default:
      return String(v);
  }
}

const pct = (v: number, total: number): string => (total === 0 ? '-' : `${((v / total) * 100).toFixed(2)}%`);

/** How a TOP node is named: its function, else `[binary] 0xaddress` like Parca's UI. */
export function nodeName(n: queryV1alpha1.TopNode): string {
  const fn = n.meta?.function?.name;
  if (fn) return fn;
  const file = n.meta?.mapping?.file ?? '';
  const base = file.slice(file.lastIndexOf('/') + 1);
  const addr = `0x${(n.meta?.location?.address ?? 0n).toString(16)}`;
  return base ? `[${base}] ${addr}` : addr;
}

/**
 * The TOP report as a table like `go tool pprof -top`: flat, flat%, sum%, cum, cum%, name;
 * percentages of the whole selection's total, nodes in the server's order (flat descending).
 */
export function topTable(top: queryV1alpha1.Top, total: number, limit: number): string[] {
  const unit = top.unit;
  const rows = top.list.slice(0, limit);
  const cells = [['FLAT', 'FLAT%', 'SUM%', 'CUM', 'CUM%', 'FUNCTION']];
  let sum = 0;
  for (const n of rows) {
    const flat = Number(n.flat);
    const cum = Number(n.cumulative);
    sum += flat;
    cells.push([formatValue(flat, unit), pct(flat, total), pct(sum, total), formatValue(cum, unit), pct(cum, total), nodeName(n)]);
  }
  const widths = cells[0].map((_, c) => Math.max(...cells.map((r) => r[c].length)));
  return cells.map((r) =>
    r
      .map((cell, c) => (c === r.length - 1 ? cell : cell.padStart(widths[c])))
      .join('  ')
      .trimEnd(),
  );
}
