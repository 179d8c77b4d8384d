/** Human units for a profile's values: CPU nanoseconds as time, counts and bytes scaled. */
export function formatValue(v: number, unit: string): string {
  const a = Math.abs(v);
  if (unit === 'nanoseconds') {
    if (a >= 3600e9) return `${trim(v / 3600e9)} h`;
    if (a >= 60e9) return `${trim(v / 60e9)} min`;
    if (a >= 1e9) return `${trim(v / 1e9)} s`;
    if (a >= 1e6) return `${trim(v / 1e6)} ms`;
    if (a >= 1e3) return `${trim(v / 1e3)} µs`;
    return `${trim(v)} ns`;
  }
  if (unit === 'bytes') {
    const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
    let u = 0;
    let x = v;
    while (Math.abs(x) >= 1024 && u < units.length - 1) {
      x /= 1024;
      u++;
    }
    return `${trim(x)} ${units[u]}`;
  }
  if (a >= 1e9) return `${trim(v / 1e9)} G`;
  if (a >= 1e6) return `${trim(v / 1e6)} M`;
  if (a >= 1e4) return `${trim(v / 1e3)} k`;
  return trim(v);
}

function trim(x: number): string {
  const a = Math.abs(x);
  const s = a >= 100 || Number.isInteger(x) ? String(Math.round(x)) : x.toFixed(a >= 10 ? 1 : 2);
  return s.replace('-', '−'); // a real minus sign, as in the percentages
}

export function percent(part: number, whole: number): string {
  if (!(whole > 0)) return '0%';
  const p = (100 * part) / whole;
  return `${Math.abs(p) >= 10 || p === 0 ? p.toFixed(1) : p.toFixed(2)}%`;
}

export function signedPercent(part: number, whole: number): string {
  if (!(whole > 0)) return part === 0 ? '0%' : part > 0 ? '+∞' : '−∞';
  const s = percent(part, whole);
  return part > 0 ? `+${s}` : s.replace('-', '−');
}
