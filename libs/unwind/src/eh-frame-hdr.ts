import { DW_EH_PE, Reader } from './reader';

/** The parsed `.eh_frame_hdr`: where `.eh_frame` is and its sorted pc → FDE search table. */
export interface EhFrameHdr {
  version: number;
  /** Address of `.eh_frame` (decoded eh_frame_ptr). */
  ehFrameAddress: number;
  /** FDE count of the search table (0 when the linker wrote none). */
  fdeCount: number;
  /** Initial locations, ascending, and the address of each FDE. */
  initialLocations: Float64Array;
  fdeAddresses: Float64Array;
}

/** 2^24 FDEs = a 96+ MiB table: more than any real binary has. */
const MAX_FDES = 1 << 24;

/**
 * Parses `.eh_frame_hdr` (LSB 5.0 §10.6.2): version 1, three encodings, eh_frame_ptr,
 * fde_count and the table (usually `datarel|sdata4`, relative to the header). Throws FirnError
 * invalid_argument when it is malformed or the table is not sorted.
 */
export function parseEhFrameHdr(bytes: Uint8Array, address: number, littleEndian = true): EhFrameHdr {
  const r: Reader = new Reader(bytes, littleEndian, address, 0, bytes.length, '.eh_frame_hdr');
  const version = r.u8();
  if (version !== 1) r.fail(`unsupported version ${version}`);
  const ptrEnc = r.u8();
  const countEnc = r.u8();
  const tableEnc = r.u8();
  const ehFrameAddress = r.encoded(ptrEnc, { dataBase: address });
  if (ehFrameAddress === undefined) r.fail('eh_frame_ptr omitted');
  let fdeCount = 0;
  if (countEnc !== DW_EH_PE.omit && tableEnc !== DW_EH_PE.omit) {
    fdeCount = r.encoded(countEnc, { dataBase: address }) ?? 0;
    if (fdeCount < 0 || fdeCount > MAX_FDES) r.fail(`implausible FDE count ${fdeCount}`);
  }
  // Each entry takes at least two bytes: the count cannot exceed what is left.
  if (fdeCount * 2 > r.remaining) r.fail(`FDE count ${fdeCount} overruns the section`);
  const initialLocations = new Float64Array(fdeCount);
  const fdeAddresses = new Float64Array(fdeCount);
  for (let i = 0; i < fdeCount; i++) {
    const loc = r.encoded(tableEnc, { dataBase: address });
    const fde = r.encoded(tableEnc, { dataBase: address });
    if (loc === undefined || fde === undefined) r.fail('table entry omitted');
    if (i > 0 && loc < initialLocations[i - 1]) r.fail('search table not sorted');
    initialLocations[i] = loc;
    fdeAddresses[i] = fde;
  }
  return { version, ehFrameAddress, fdeCount, initialLocations, fdeAddresses };
}
