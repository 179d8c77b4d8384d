import { isFirnError } from '@firn/errors';
import type { ObjectInfo } from '@firn/storage';
import type { ScanQuery } from './segment-scan';
import type { SegmentMeta } from './segment-objects';

/** Messages between the scan pool (main thread) and its workers. */

export interface ScanRequest {
  type: 'scan';
  id: number;
  seg: SegmentMeta;
  q: ScanQuery;
  groupBy: readonly string[];
}

export interface WireError {
  /** A FirnError code, when it was one. */
  code?: string;
  message: string;
  details?: Record<string, string | number | boolean>;
}

/** An error as it crosses the worker boundary (both directions), keeping a FirnError's code. */
export function toWire(err: unknown): WireError {
  if (isFirnError(err)) return { code: err.code, message: err.message, details: err.details };
  return { message: err instanceof Error ? err.message : String(err) };
}

export type ScanReply =
  | {
      type: 'done';
      id: number;
      ids: Uint32Array;
      dense?: Float64Array;
      /** Grouped sums as parallel columns: (group × 2^32 + stack_id) and its sum. */
      cellKeys?: Float64Array;
      cellValues?: Float64Array;
      groups: string[][];
    }
  | ({ type: 'error'; id: number } & WireError);

/** A worker asking the main thread for object bytes. */
export interface WorkerMessage {
  type: 'read';
  rid: number;
  op: 'get' | 'getRange' | 'head';
  key: string;
  offset: number;
  length: number;
}

export interface ReadReply {
  type: 'read';
  rid: number;
  bytes?: Uint8Array;
  /** Reply to `head`: the object's info (structured-cloned), or undefined when absent. */
  info?: ObjectInfo;
  error?: WireError;
}
