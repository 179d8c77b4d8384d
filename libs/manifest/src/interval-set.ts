/** An inclusive range of ingest-stream sequence numbers. */
export interface Interval {
  first: bigint;
  last: bigint;
}

/**
 * Helpers over arrays of intervals sorted by `first` and pairwise disjoint. Because they are
 * disjoint, `last` is sorted too, so every search is a binary search on `first`.
 */

/** Index of the last interval whose `first` is <= x, or -1. */
function lastStartingAtOrBefore(list: readonly Interval[], x: bigint): number {
  let lo = 0;
  let hi = list.length - 1;
  let found = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid].first <= x) {
      found = mid;
      lo = mid + 1;
    } else {
      hi = mid - 1;
    }
  }
  return found;
}

/** True when some interval of `list` shares a point with [first, last]. O(log n). */
export function intersects(list: readonly Interval[], first: bigint, last: bigint): boolean {
  const i = lastStartingAtOrBefore(list, last);
  return i >= 0 && list[i].last >= first;
}

export function containsPoint(list: readonly Interval[], x: bigint): boolean {
  return intersects(list, x, x);
}

/** Inserts an interval known not to intersect any in `list`. O(log n) search + O(n) shift. */
export function insertDisjoint<T extends Interval>(list: T[], iv: T): void {
  list.splice(lastStartingAtOrBefore(list, iv.first) + 1, 0, iv);
}

/** Adds [first, last] to a union, merging with overlapping and adjacent intervals. */
export function insertMerged(list: Interval[], first: bigint, last: bigint): void {
  let start = lastStartingAtOrBefore(list, first);
  // The interval before may touch or overlap the new one (adjacent integers merge too).
  if (start >= 0 && list[start].last + 1n < first) start += 1;
  if (start < 0) start = 0;
  let end = start;
  let lo = first;
  let hi = last;
  while (end < list.length && list[end].first <= hi + 1n) {
    if (list[end].first < lo) lo = list[end].first;
    if (list[end].last > hi) hi = list[end].last;
    end += 1;
  }
  list.splice(start, end - start, { first: lo, last: hi });
}

/** Drops every point <= floor from a union; intervals straddling the floor are clipped. */
export function clipAtOrBelow(list: Interval[], floor: bigint): void {
  let drop = 0;
  while (drop < list.length && list[drop].last <= floor) drop += 1;
  list.splice(0, drop);
  if (list.length > 0 && list[0].first <= floor) list[0] = { first: floor + 1n, last: list[0].last };
}

/**
 * Sorts and merges one segment's own ranges so self-overlap never counts as a conflict.
 * Ranges with first > last are empty and dropped.
 */
export function normalize(ranges: readonly Interval[]): Interval[] {
  const out: Interval[] = [];
  for (const r of [...ranges].filter((r) => r.first <= r.last).sort((a, b) => (a.first < b.first ? -1 : a.first > b.first ? 1 : 0))) {
    insertMerged(out, r.first, r.last);
  }
  return out;
}
