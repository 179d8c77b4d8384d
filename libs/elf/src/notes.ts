import type { ByteView } from './byte-view';

const NT_GNU_BUILD_ID = 3;
const NT_GO_BUILD_ID = 4;

export interface NoteIds {
  buildId?: string;
  goBuildId?: string;
}

function align(n: number, a: number): number {
  return Math.ceil(n / a) * a;
}

function hex(b: Uint8Array): string {
  let s = '';
  for (const x of b) s += x.toString(16).padStart(2, '0');
  return s;
}

/**
 * Walks the notes in one SHT_NOTE section or PT_NOTE segment. Notes in 8-aligned blocks
 * (`.note.gnu.property`) pad name and descriptor to 8 bytes, all others to 4.
 */
export function parseNotes(v: ByteView, blockAlign: bigint, into: NoteIds): void {
  const a = blockAlign === 8n ? 8 : 4;
  let off = 0;
  while (off + 12 <= v.length) {
    const namesz = v.u32(off, 'note namesz');
    const descsz = v.u32(off + 4, 'note descsz');
    const type = v.u32(off + 8, 'note type');
    const nameOff = off + 12;
    const descOff = nameOff + align(namesz, a);
    const next = descOff + align(descsz, a);
    if (next > v.length || next <= off) return;
    // Owners we care about are short; long names are skipped without decoding.
    const name = namesz > 0 && namesz <= 16 ? v.slice(nameOff, namesz, 'note name') : new Uint8Array();
    // Go writes its owner as "Go\0\0" (namesz 4), GNU as "GNU\0": compare up to the first NUL.
    const nul = name.indexOf(0);
    const owner = String.fromCharCode(...name.subarray(0, nul < 0 ? name.length : nul));
    const isName = (s: string): boolean => nul >= 0 && owner === s;
    if (type === NT_GNU_BUILD_ID && isName('GNU') && descsz > 0 && into.buildId === undefined) {
      into.buildId = hex(v.slice(descOff, descsz, 'build id'));
    } else if (type === NT_GO_BUILD_ID && isName('Go') && descsz > 0 && into.goBuildId === undefined) {
      into.goBuildId = new TextDecoder().decode(v.slice(descOff, descsz, 'Go build id'));
    }
    off = next;
  }
}
