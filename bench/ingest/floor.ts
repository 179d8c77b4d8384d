// The same-run floor of issue #19: what only decoding the pushed payloads costs with maintained
// libraries, so Firn's write path can be reported as a multiple of it (measured on this machine, in
// this run, on the same bytes). pprof: gunzip (node:zlib) + decode into messages with
// @bufbuild/protobuf's generated Profile schema. Arrow: apache-arrow's tableFromIPC (which builds
// every batch's typed-array views and dictionaries; nothing is left lazy).
import { gunzipSync } from 'node:zlib';
import { fromBinary } from '@bufbuild/protobuf';
import { tableFromIPC } from 'apache-arrow';
import { checkSamplesArrow, samplesFromArrow, type ArrowLimits } from '@firn/profiles';
import { googleV1 } from '@firn/proto';
import type { PreparedWindow } from './payloads';
import type { PhaseFormat } from './report';

export interface DecodeFloor {
  /** CPU seconds (user + system, this process) of one pass over every window. */
  cpuSecPerPass: number;
  /** Passes timed (repeated until at least `minCpuSec` of CPU, to smooth out a noisy machine). */
  passes: number;
  /** pprof samples or Arrow rows decoded in one pass (a check that the decode did the work). */
  itemsSeen: number;
}

function decodePprof(windows: PreparedWindow[]): number {
  let n = 0;
  for (const w of windows) {
    for (const s of w.pprof) n += fromBinary(googleV1.ProfileSchema, gunzipSync(s.rawProfile)).sample.length;
  }
  return n;
}

function decodeArrow(windows: PreparedWindow[]): number {
  let n = 0;
  for (const w of windows) {
    n += tableFromIPC(w.arrow).numRows;
  }
  return n;
}

export function decodeFloor(format: PhaseFormat, windows: PreparedWindow[], minCpuSec = 3): DecodeFloor {
  return cpuPerPass(format === 'pprof' ? decodePprof : decodeArrow, windows, minCpuSec);
}

/** Generous limits: the readers these benches time are timed, never refused. */
export const READER_LIMITS: ArrowLimits = { maxRows: 1e7, maxStackDepth: 1024, maxBytes: 1 << 30, maxSymbols: 1e7, maxSeries: 1e5, maxStackFrames: 1e8 };

/**
 * Firn's own Arrow reader on the same payloads, in the same run: the gateway's check
 * (checkSamplesArrow) and the ingester's decode into a batch (samplesFromArrow), each per pass.
 */
export function arrowReaders(windows: PreparedWindow[], minCpuSec = 3): { check: DecodeFloor; decode: DecodeFloor } {
  const check = (ws: PreparedWindow[]) => ws.reduce((n, w) => n + (checkSamplesArrow(w.arrow, READER_LIMITS)?.length ?? 0), 0);
  const decode = (ws: PreparedWindow[]) => ws.reduce((n, w) => n + samplesFromArrow(w.arrow, READER_LIMITS).length, 0);
  return { check: cpuPerPass(check, windows, minCpuSec), decode: cpuPerPass(decode, windows, minCpuSec) };
}

/** CPU per pass of `decode` over `items` (windows, batches, payloads), passes repeated until `minCpuSec`. */
export function cpuPerPass<T>(decode: (items: T[]) => number, items: T[], minCpuSec: number): DecodeFloor {
  decode(items.slice(0, 50)); // JIT warm-up, not timed
  const start = process.cpuUsage();
  let passes = 0;
  let itemsSeen = 0;
  let cpuSec = 0;
  do {
    itemsSeen = decode(items);
    passes++;
    const used = process.cpuUsage(start);
    cpuSec = (used.user + used.system) / 1e6;
  } while (cpuSec < minCpuSec);
  return { cpuSecPerPass: cpuSec / passes, passes, itemsSeen };
}
