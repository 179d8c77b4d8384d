import type { SymbolFrame } from './types';

const ADDRESS_LINE = /^0x[0-9a-fA-F]+$/;
/** elfutils: `file:line:column` (column only when known); binutils: `file:line (discriminator N)`. */
const ELFUTILS_LOCATION = [/^(.*):(\d+):\d+$/, /^(.*):(\d+)$/];
const BINUTILS_LOCATION = [/^(.*):(\d+|\?)(?: \(discriminator \d+\))?$/];

export type Addr2lineFlavor = 'elfutils' | 'binutils';
const INLINED_AT = ' inlined at ';
/** Legacy Rust mangling demangles to `path::name::h<16 hex>`; the hash only disambiguates. */
const RUST_HASH = /::h[0-9a-f]{16}$/;

export function cleanFunctionName(name: string): string {
  if (name === '??' || name === '') return '';
  return name.replace(RUST_HASH, '');
}

function parseLocation(loc: string, flavor: Addr2lineFlavor): { fileName: string; line: number } {
  let m: RegExpExecArray | null = null;
  for (const re of flavor === 'elfutils' ? ELFUTILS_LOCATION : BINUTILS_LOCATION) {
    m = re.exec(loc);
    if (m) break;
  }
  if (!m) return { fileName: loc === '??' ? '' : loc, line: 0 };
  const fileName = m[1] === '??' ? '' : m[1];
  const line = m[2] === '?' ? 0 : Number(m[2]);
  return { fileName, line };
}

/** One address's frames from `(function, location)` line pairs, innermost first. */
function framesOf(pairs: [string, string][], flavor: Addr2lineFlavor): SymbolFrame[] {
  const frames = pairs.map(([fn, loc], i): SymbolFrame => {
    // elfutils: "inner inlined at file:line:col in outer"; binutils prints just "inner".
    const cut = fn.indexOf(INLINED_AT);
    const functionName = cleanFunctionName(cut >= 0 ? fn.slice(0, cut) : fn);
    return { functionName, ...parseLocation(loc, flavor), inlined: i < pairs.length - 1 };
  });
  return frames.some((f) => f.functionName !== '' || f.fileName !== '') ? frames : [];
}

/**
 * Parses `addr2line -a -f -i` output (elfutils or binutils) for `addresses` asked in that
 * order: each address line is followed by one or more function/location pairs. An address
 * line is recognised only when its value is the next address asked, so odd function names
 * cannot shift the result; if the output stops matching, the remaining addresses get no frames
 * rather than someone else's.
 */
export function parseAddr2lineOutput(text: string, addresses: readonly bigint[], flavor: Addr2lineFlavor): SymbolFrame[][] {
  const lines = text.split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  const out: SymbolFrame[][] = addresses.map(() => []);
  const isAddress = (line: string | undefined, want: bigint | undefined): boolean =>
    line !== undefined && want !== undefined && ADDRESS_LINE.test(line) && BigInt(line) === want;
  let i = 0;
  for (let a = 0; a < addresses.length; a++) {
    if (!isAddress(lines[i], addresses[a])) break;
    i++;
    const pairs: [string, string][] = [];
    let desync = false;
    while (i < lines.length && !isAddress(lines[i], addresses[a + 1])) {
      // An address nobody asked for, or a function line without its location: out of step.
      if (ADDRESS_LINE.test(lines[i]) || i + 1 >= lines.length) {
        desync = true;
        break;
      }
      pairs.push([lines[i], lines[i + 1]]);
      i += 2;
    }
    if (desync) break;
    out[a] = framesOf(pairs, flavor);
  }
  return out;
}
