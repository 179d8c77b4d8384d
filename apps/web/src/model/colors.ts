/** FNV-1a: a stable small hash, so a binary keeps its colour across reloads and users. */
export function hash(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) {
    h ^= s.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** What a frame is coloured by: its binary's base name, else its package / namespace prefix. */
export function colourKey(binary: string, name: string): string {
  if (binary) return binary.slice(binary.lastIndexOf('/') + 1);
  const ns = name.indexOf('::');
  if (ns > 0) return name.slice(0, ns);
  const slash = name.lastIndexOf('/');
  const dot = name.indexOf('.', slash + 1);
  if (dot > 0) return name.slice(0, dot);
  return name;
}

/** A warm-to-cool palette with enough lightness spread to read black text on it (light) or white (dark). */
export function frameColour(key: string, dark: boolean): string {
  const h = hash(key);
  const hue = h % 360;
  const sat = 45 + ((h >>> 9) % 20);
  const light = dark ? 30 + ((h >>> 17) % 10) : 68 + ((h >>> 17) % 12);
  return `hsl(${hue} ${sat}% ${light}%)`;
}

/** Diff colour: red for growth, green for shrinkage, grey for no change; `ratio` in [-1, 1]. */
export function diffColour(ratio: number, dark: boolean): string {
  const r = Math.max(-1, Math.min(1, ratio));
  const strength = Math.sqrt(Math.abs(r));
  if (Math.abs(r) < 0.005) return dark ? 'hsl(220 8% 32%)' : 'hsl(220 10% 82%)';
  const hue = r > 0 ? 0 : 130;
  const sat = 25 + 60 * strength;
  const light = dark ? 34 - 8 * strength : 82 - 30 * strength;
  return `hsl(${hue} ${sat}% ${light}%)`;
}
