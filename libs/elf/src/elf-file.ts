import { ByteView, toOffset } from './byte-view';
import { parseNotes, type NoteIds } from './notes';
import { isSymtab, loadsOf, noteBlocks, sectionBytes, tableSteps, type NoteBlock, type Steps } from './steps';
import { SHT_NOBITS, type ElfFile } from './types';

/** Build-id notes are tiny; a note block bigger than this is not worth reading. */
const MAX_NOTE_BLOCK = 1 << 20;
const MAX_DEBUGLINK = 4096;
const MAX_COMMENT = 64 << 10;

export function* elfFileSteps(fileSize: number): Steps<ElfFile> {
  const t = yield* tableSteps(fileSize);
  const le = t.header.littleEndian;
  const is64 = t.header.bits === 64;

  const ids: NoteIds = {};
  const readBlock = function* (b: NoteBlock): Steps<void> {
    const off = toOffset(b.offset, 'note offset');
    const size = toOffset(b.size, 'note size');
    if (size === 0 || size > MAX_NOTE_BLOCK || off >= fileSize) return;
    const bytes = yield { offset: off, length: Math.min(size, fileSize - off), what: 'notes' };
    parseNotes(new ByteView(bytes, le, is64, off), b.align, ids);
  };
  const blocks = noteBlocks(t);
  for (const b of blocks.sections) yield* readBlock(b);
  if (ids.buildId === undefined) for (const b of blocks.segments) yield* readBlock(b);

  let debuglink: ElfFile['debuglink'];
  const link = t.sections.find((s) => s.name === '.gnu_debuglink');
  if (link) {
    const v = yield* sectionBytes(t, link, fileSize, MAX_DEBUGLINK);
    if (v) {
      const file = v.cstring(0, '.gnu_debuglink file name');
      const crcOff = Math.ceil((Buffer.byteLength(file) + 1) / 4) * 4;
      debuglink = { file, crc: v.u32(crcOff, '.gnu_debuglink crc') };
    }
  }

  const comment: string[] = [];
  const commentSec = t.sections.find((s) => s.name === '.comment');
  if (commentSec) {
    const v = yield* sectionBytes(t, commentSec, fileSize, MAX_COMMENT);
    if (v)
      comment.push(
        ...new TextDecoder()
          .decode(v.bytes)
          .split('\0')
          .filter((x) => x !== ''),
      );
  }

  const hasDwarf = t.sections.some((s) => (s.name === '.debug_info' || s.name === '.zdebug_info') && s.type !== SHT_NOBITS && s.size > 0n);
  const out: ElfFile = {
    bits: t.header.bits,
    littleEndian: le,
    type: t.header.type,
    machine: t.header.machine,
    buildId: ids.buildId ?? '',
    loads: loadsOf(t),
    sections: t.sections.map(({ name, type, flags, addr, offset, size, compressed }) => ({ name, type, flags, addr, offset, size, compressed })),
    hasDwarf,
    hasSymtab: t.sections.some(isSymtab),
    comment,
  };
  if (ids.goBuildId !== undefined) out.goBuildId = ids.goBuildId;
  if (debuglink) out.debuglink = debuglink;
  return out;
}
