import { open } from 'node:fs/promises';
import { FirnError } from '@firn/errors';
import { readElfFile, SHT_NOBITS, type ElfFile } from '@firn/elf';
import { archOfMachine, type Arch } from './arch';
import { parseEhFrameHdr, type EhFrameHdr } from './eh-frame-hdr';
import { buildUnwindRows, buildUnwindRowsAsync, type UnwindRows, type UnwindTableStats } from './table';

/** SHF_EXECINSTR */
const SHF_EXECINSTR = 0x4n;
/** `.eh_frame` larger than this is not a real binary's (Node's is 2.7 MiB). */
const MAX_EH_FRAME_BYTES = 512 << 20;

export interface FileUnwindTable {
  arch: Arch;
  buildId: string;
  rows: UnwindRows;
  stats: UnwindTableStats & {
    /** Bytes of executable sections (SHF_EXECINSTR with contents). */
    textBytes: number;
    /** FDE count in `.eh_frame_hdr`'s search table (undefined without one). */
    hdrFdes?: number;
  };
}

/** Why a file has no table (the agent unwinds it by frame pointers and counts the reason). */
export type NoTableReason = 'not_elf' | 'unsupported_arch' | 'no_eh_frame' | 'malformed';

async function readRange(path: string, offset: number, length: number): Promise<Uint8Array> {
  const fh = await open(path, 'r').catch((err: NodeJS.ErrnoException) => {
    // ENOENT: the file is gone; ESRCH: /proc/<pid>/map_files of a process that exited.
    throw err.code === 'ENOENT' || err.code === 'ESRCH' ? FirnError.notFound(`${path} is gone`) : err;
  });
  try {
    const buf = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    if (got < length) throw FirnError.invalidArgument(`${path}: section at ${offset} truncated (${got} of ${length} bytes)`);
    return buf;
  } finally {
    await fh.close();
  }
}

/**
 * Reads `.eh_frame` (and `.eh_frame_hdr` when present) of an ELF file and builds its sorted
 * unwind table. Only the two sections are read. Returns a reason instead of a table when the
 * file cannot be unwound by tables; throws FirnError not_found when the file is gone.
 */
export async function readFileUnwindTable(
  path: string,
  elf?: ElfFile,
  /** Build in slices, awaiting `pause` between them (see buildUnwindRowsAsync); default: in one go. */
  opts: { sliced?: boolean; pause?: () => Promise<void> } = {},
): Promise<FileUnwindTable | { reason: NoTableReason; detail: string }> {
  try {
    elf ??= await readElfFile(path);
  } catch (err) {
    if (err instanceof FirnError && err.code === 'not_found') throw err;
    return { reason: 'not_elf', detail: (err as Error).message };
  }
  const arch = archOfMachine(elf.machine);
  if (!arch || elf.bits !== 64) return { reason: 'unsupported_arch', detail: `e_machine ${elf.machine}, ELF${elf.bits}` };
  const ehFrame = elf.sections.find((s) => s.name === '.eh_frame' && s.type !== SHT_NOBITS && s.size > 0n);
  if (!ehFrame) return { reason: 'no_eh_frame', detail: 'no .eh_frame section' };
  if (ehFrame.size > BigInt(MAX_EH_FRAME_BYTES)) return { reason: 'malformed', detail: `.eh_frame of ${ehFrame.size} bytes` };
  const textBytes = elf.sections.filter((s) => (s.flags & SHF_EXECINSTR) !== 0n && s.type !== SHT_NOBITS).reduce((a, s) => a + Number(s.size), 0);
  try {
    const bytes = await readRange(path, Number(ehFrame.offset), Number(ehFrame.size));
    const section = { bytes, address: Number(ehFrame.addr), littleEndian: elf.littleEndian, addressSize: 8 as const };
    const { rows, stats } = opts.sliced ? await buildUnwindRowsAsync(section, arch, { pause: opts.pause }) : buildUnwindRows(section, arch);
    let hdr: EhFrameHdr | undefined;
    const hdrSection = elf.sections.find((s) => s.name === '.eh_frame_hdr' && s.type !== SHT_NOBITS && s.size > 0n);
    if (hdrSection && hdrSection.size < BigInt(MAX_EH_FRAME_BYTES)) {
      try {
        hdr = parseEhFrameHdr(await readRange(path, Number(hdrSection.offset), Number(hdrSection.size)), Number(hdrSection.addr), elf.littleEndian);
      } catch (err) {
        if (!(err instanceof FirnError && err.code === 'invalid_argument')) throw err;
        // The table does not need the header: .eh_frame was scanned in full.
      }
    }
    return { arch, buildId: elf.buildId, rows, stats: { ...stats, textBytes, hdrFdes: hdr?.fdeCount } };
  } catch (err) {
    if (err instanceof FirnError && err.code === 'invalid_argument') return { reason: 'malformed', detail: err.message };
    throw err;
  }
}
