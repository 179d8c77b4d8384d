/**
 * Code-point order, which equals UTF-8 byte order: the order Parquet statistics, DuckDB and S3
 * listings use. Plain `<` on JS strings compares UTF-16 code units and puts U+E000..U+FFFF after
 * astral characters, so it would disagree with every other reader of our files.
 */
export function compareStrings(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    const xs = x >= 0xd800 && x <= 0xdfff;
    const ys = y >= 0xd800 && y <= 0xdfff;
    if (xs !== ys) return xs ? 1 : -1;
    return x - y;
  }
  return a.length - b.length;
}

/** Orders label sets (each sorted by name) pair by pair, name before value; a prefix sorts first. */
export function compareLabelSets(a: ReadonlyArray<readonly [string, string]>, b: ReadonlyArray<readonly [string, string]>): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const c = compareStrings(a[i][0], b[i][0]) || compareStrings(a[i][1], b[i][1]);
    if (c !== 0) return c;
  }
  return a.length - b.length;
}

/** Canonical, unambiguous text form of a sorted label set (used as a map key and in totals). */
export function seriesKeyOf(labels: ReadonlyArray<readonly [string, string]>): string {
  return JSON.stringify(labels);
}
