/** A time range as the URL keeps it: `now-15m` / `now` (relative) or epoch milliseconds. */
export interface RangeSpec {
  from: string;
  to: string;
}

const UNIT_MS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };

export const PRESETS: ReadonlyArray<{ label: string; from: string }> = [
  { label: 'Last 5 minutes', from: 'now-5m' },
  { label: 'Last 15 minutes', from: 'now-15m' },
  { label: 'Last 1 hour', from: 'now-1h' },
  { label: 'Last 6 hours', from: 'now-6h' },
  { label: 'Last 24 hours', from: 'now-24h' },
  { label: 'Last 7 days', from: 'now-7d' },
];

/** Milliseconds for one end of a range, or undefined when it does not parse. */
export function resolveTime(s: string, now: number): number | undefined {
  const t = s.trim();
  if (t === 'now') return now;
  const rel = /^now-(\d+)([smhdw])$/.exec(t);
  if (rel) return now - Number(rel[1]) * UNIT_MS[rel[2]];
  if (/^\d{10,14}$/.test(t)) return Number(t);
  const parsed = Date.parse(t);
  return Number.isNaN(parsed) ? undefined : parsed;
}

export function resolveRange(r: RangeSpec, now: number): { startMs: number; endMs: number } | { error: string } {
  const startMs = resolveTime(r.from, now);
  const endMs = resolveTime(r.to, now);
  if (startMs === undefined) return { error: `cannot read the start time "${r.from}"` };
  if (endMs === undefined) return { error: `cannot read the end time "${r.to}"` };
  if (endMs <= startMs) return { error: 'the end of the range must be after its start' };
  return { startMs, endMs };
}

export function isRelative(r: RangeSpec): boolean {
  return r.to.trim() === 'now' && r.from.startsWith('now-');
}

/** The range frozen to absolute times (what a share link carries, so others see the same data). */
export function freeze(r: RangeSpec, now: number): RangeSpec {
  const x = resolveRange(r, now);
  return 'error' in x ? r : { from: String(x.startMs), to: String(x.endMs) };
}

export function describeRange(r: RangeSpec): string {
  const preset = PRESETS.find((p) => p.from === r.from && r.to === 'now');
  if (preset) return preset.label;
  const fmt = (s: string): string => {
    const ms = resolveTime(s, Date.now());
    return ms === undefined ? s : s.startsWith('now') ? s : new Date(ms).toLocaleString();
  };
  return `${fmt(r.from)} → ${fmt(r.to)}`;
}

/** `datetime-local` input value (local time) for epoch ms, and back. */
export function toLocalInput(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number): string => String(n).padStart(2, '0');
  return `${d.getFullYear()}-${pad(d.getMonth() + 1)}-${pad(d.getDate())}T${pad(d.getHours())}:${pad(d.getMinutes())}:${pad(d.getSeconds())}`;
}
