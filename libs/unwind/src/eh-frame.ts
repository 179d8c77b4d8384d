import { DW_EH_PE, Reader } from './reader';

/** A Common Information Entry: what every FDE pointing at it shares. */
export interface Cie {
  /** Offset of the entry in the section. */
  offset: number;
  version: number;
  augmentation: string;
  codeAlign: number;
  dataAlign: number;
  raRegister: number;
  /** DW_EH_PE encoding of FDE addresses ('R'); absptr when absent. */
  fdeEncoding: number;
  /** 'z': FDEs carry an augmentation-data length. */
  hasAugmentationData: boolean;
  /** 'S': a signal trampoline (the return address is not after a call). */
  signalFrame: boolean;
  initialInstructions: Uint8Array;
}

/** A Frame Description Entry: the unwind program of one code range [pcBegin, pcEnd). */
export interface Fde {
  offset: number;
  cie: Cie;
  pcBegin: number;
  pcEnd: number;
  instructions: Uint8Array;
}

/** Where a `.eh_frame` section's bytes are and where it was loaded. */
export interface EhFrameSection {
  bytes: Uint8Array;
  /** sh_addr of the section: pc-relative pointers are relative to it. */
  address: number;
  littleEndian?: boolean;
  /** 8 for ELF64 (absptr size). */
  addressSize?: 4 | 8;
}

export interface EhFrameCounts {
  cies: number;
  fdes: number;
  /** FDEs skipped: zero-length, or starting at address 0 (discarded by the linker). */
  skippedFdes: number;
}

/** Hard cap on entries in one section: a 2^32-byte section could not hold more. */
const MAX_ENTRIES = 1 << 24;

/**
 * Walks every CIE/FDE of a `.eh_frame` section (the LSB flavour of DWARF call frame
 * information: CIE id 0, CIE pointers relative to the FDE, `z`/`R`/`P`/`L`/`S` augmentations) and
 * calls `onFde` for each FDE in section order. A zero length ends the section. Throws FirnError
 * invalid_argument when the entry chain itself is malformed (a wrong length or CIE pointer makes
 * the rest unreadable); callers decide what to do with an FDE whose program is bad.
 */
export function forEachFde(section: EhFrameSection, onFde: (fde: Fde) => void): EhFrameCounts {
  const walker = new EhFrameWalker(section);
  while (walker.next(Infinity, onFde));
  return walker.counts;
}

/** forEachFde in resumable steps (so a large section can be walked between other work). */
export class EhFrameWalker {
  readonly counts: EhFrameCounts = { cies: 0, fdes: 0, skippedFdes: 0 };
  private readonly r: Reader;
  private readonly le: boolean;
  private readonly addressSize: 4 | 8;
  private readonly cies = new Map<number, Cie>();
  private entries = 0;
  private done = false;

  constructor(private readonly section: EhFrameSection) {
    this.le = section.littleEndian ?? true;
    this.addressSize = section.addressSize ?? 8;
    this.r = new Reader(section.bytes, this.le, section.address, 0, section.bytes.length, '.eh_frame');
  }

  /** Visits up to `maxEntries` more entries; false once the section is exhausted. */
  next(maxEntries: number, onFde: (fde: Fde) => void): boolean {
    const r: Reader = this.r;
    const { section, le, addressSize, cies, counts } = this;
    for (let n = 0; n < maxEntries; n++) {
      if (this.done || r.remaining < 4) {
        this.done = true;
        return false;
      }
      if (++this.entries > MAX_ENTRIES) r.fail('too many entries');
      const start = r.pos;
      let length = r.u32();
      if (length === 0) {
        this.done = true; // terminator
        return false;
      }
      if (length === 0xffffffff) length = r.u64(); // 64-bit DWARF
      const bodyStart = r.pos;
      if (length > r.remaining) r.fail(`entry of ${length} bytes overruns the section`);
      const end = bodyStart + length;
      const idPos = r.pos;
      const id = r.u32();
      if (id === 0) {
        cies.set(start, parseCie(section.bytes, le, section.address, start, r.pos, end));
        counts.cies++;
      } else {
        const ciePos = idPos - id;
        let cie = cies.get(ciePos);
        if (!cie) {
          // A CIE may follow its FDEs in principle; parse it where the pointer says.
          if (ciePos < 0 || ciePos >= section.bytes.length) r.fail(`CIE pointer ${id} outside the section`);
          cie = parseCieAt(section.bytes, le, section.address, ciePos);
          cies.set(ciePos, cie);
        }
        // The FDE's fields, read with the section reader limited to the entry.
        const sectionEnd = r.end;
        r.end = end;
        const pcBegin = r.encoded(cie.fdeEncoding, { addressSize });
        const range = r.encoded(cie.fdeEncoding & 0x0f, { addressSize, signedFormatOnly: true });
        if (pcBegin === undefined || range === undefined) r.fail('FDE address omitted');
        if (cie.hasAugmentationData) r.skip(r.uleb());
        r.end = sectionEnd;
        const instructions = section.bytes.subarray(r.pos, end);
        if (range <= 0 || pcBegin <= 0 || !Number.isSafeInteger(pcBegin + range)) counts.skippedFdes++;
        else {
          counts.fdes++;
          onFde({ offset: start, cie, pcBegin, pcEnd: pcBegin + range, instructions });
        }
      }
      r.pos = end;
    }
    return true;
  }
}

function parseCieAt(bytes: Uint8Array, le: boolean, address: number, pos: number): Cie {
  const r: Reader = new Reader(bytes, le, address, pos, bytes.length, '.eh_frame CIE');
  let length = r.u32();
  if (length === 0xffffffff) length = r.u64();
  if (length > r.remaining) r.fail('CIE overruns the section');
  const end = r.pos + length;
  if (r.u32() !== 0) r.fail('CIE pointer does not point at a CIE');
  return parseCie(bytes, le, address, pos, r.pos, end);
}

function parseCie(bytes: Uint8Array, le: boolean, address: number, offset: number, pos: number, end: number): Cie {
  const r: Reader = new Reader(bytes, le, address, pos, end, '.eh_frame CIE');
  const version = r.u8();
  if (version !== 1 && version !== 3 && version !== 4) r.fail(`unsupported CIE version ${version}`);
  const augmentation = r.cstring();
  if (augmentation.includes('eh')) r.skip(8); // old GCC: an eh_data pointer
  if (version === 4) {
    r.u8(); // address_size
    r.u8(); // segment_selector_size
  }
  const codeAlign = r.uleb();
  const dataAlign = r.sleb();
  const raRegister = version === 1 ? r.u8() : r.uleb();
  const cie: Cie = {
    offset,
    version,
    augmentation,
    codeAlign,
    dataAlign,
    raRegister,
    fdeEncoding: DW_EH_PE.absptr,
    hasAugmentationData: false,
    signalFrame: false,
    initialInstructions: new Uint8Array(0),
  };
  if (augmentation.startsWith('z')) {
    cie.hasAugmentationData = true;
    const len = r.uleb();
    const augEnd = r.pos + len;
    if (augEnd > end) r.fail('CIE augmentation data overruns the entry');
    for (const c of augmentation.slice(1)) {
      if (c === 'R') cie.fdeEncoding = r.u8();
      else if (c === 'L')
        r.u8(); // LSDA encoding: the LSDA itself is not needed to unwind
      else if (c === 'P') {
        const enc = r.u8();
        // The personality routine pointer; its value is irrelevant, its size is not.
        r.encoded(enc & 0x0f, { addressSize: 8, signedFormatOnly: true });
      } else if (c === 'S') cie.signalFrame = true;
      else if (c === 'B' || c === 'G')
        continue; // AArch64 BTI / MTE-tagged frames: no data
      else break; // unknown: the length lets us skip the rest
    }
    r.pos = augEnd;
  } else if (augmentation !== '' && augmentation !== 'eh') {
    r.fail(`unknown CIE augmentation '${augmentation}'`);
  }
  cie.initialInstructions = bytes.subarray(r.pos, end);
  return cie;
}
