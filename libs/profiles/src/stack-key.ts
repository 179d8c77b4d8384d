import { createHash } from 'node:crypto';
import { FirnError } from '@firn/errors';
import type { Frame } from './sample-batch';

const U64_MAX = (1n << 64n) - 1n;

// Digests are cached per object: a decoded batch shares one Frame object per distinct frame and
// one array per distinct stack, so each is hashed once per batch, not once per row or stack.
const frameDigests = new WeakMap<Frame, Buffer>();
const stackKeys = new WeakMap<readonly Frame[], string>();
// ...and by content across batches: every agent flush decodes fresh Frame objects for the same
// few thousand frames, and SHA-256 per frame per batch dominated the ingester's CPU. Bounded:
// cleared wholesale when full (a cheap, good-enough LRU for a working set of hot frames). An
// entry costs ~330 B of heap (measured in a compactor heap snapshot: 15 k entries, 4.9 MB), so
// 64 Ki entries cap it near 21 MB per process; 256 Ki allowed ~85 MB, which a fleet's long tail
// of rarely seen frames fills slowly and looks like a leak in a soak.
const MAX_SHARED_DIGESTS = 1 << 16;
let sharedDigests = new Map<string, Buffer>();

/** A frame's content as one string: equal for frames equal in every field a stack key hashes. */
export function frameText(f: Frame): string {
  return `${f.buildId}\u0000${f.mappingFile}\u0000${f.address}\u0000${f.functionName}\u0000${f.fileName}\u0000${f.line}\u0000${f.inlined ? 1 : 0}`;
}

const frameTexts = new WeakMap<Frame, string>();

/**
 * frameText, kept per Frame object (frames are never changed): readers that meet the same
 * long-lived frames query after query (a querier's stack catalog, its explained copies) build
 * each string once, not per query; the address's BigInt to decimal was most of its cost.
 */
export function frameContent(f: Frame): string {
  let t = frameTexts.get(f);
  if (t === undefined) frameTexts.set(f, (t = frameText(f)));
  return t;
}

/**
 * 16-byte digest of one frame: the first 16 bytes of SHA-256 over
 *   str build_id, str mapping_file, u64 address, str function_name, str file_name,
 *   i64 line, u8 inlined (0/1)
 * with str = u32 UTF-8 byte length + bytes, integers little-endian.
 */
export function frameDigest(f: Frame): Buffer {
  const cached = frameDigests.get(f);
  if (cached) return cached;
  if (typeof f.address !== 'bigint' || f.address < 0n || f.address > U64_MAX) {
    throw FirnError.invalidArgument(`frame address must be a uint64, got ${String(f.address)}`);
  }
  const text = frameText(f);
  const shared = sharedDigests.get(text);
  if (shared) {
    frameDigests.set(f, shared);
    return shared;
  }
  const size =
    4 * 4 + 8 + 8 + 1 + Buffer.byteLength(f.buildId) + Buffer.byteLength(f.mappingFile) + Buffer.byteLength(f.functionName) + Buffer.byteLength(f.fileName);
  const buf = Buffer.allocUnsafe(size);
  let o = 0;
  const str = (s: string): void => {
    const n = buf.write(s, o + 4, 'utf8');
    buf.writeUInt32LE(n, o);
    o += 4 + n;
  };
  str(f.buildId);
  str(f.mappingFile);
  o = buf.writeBigUInt64LE(f.address, o);
  str(f.functionName);
  str(f.fileName);
  o = buf.writeBigInt64LE(BigInt.asIntN(64, BigInt(Math.trunc(f.line))), o);
  o = buf.writeUInt8(f.inlined ? 1 : 0, o);
  const d = createHash('sha256').update(buf.subarray(0, o)).digest().subarray(0, 16);
  frameDigests.set(f, d);
  if (sharedDigests.size >= MAX_SHARED_DIGESTS) sharedDigests = new Map();
  sharedDigests.set(text, d);
  return d;
}

/**
 * Global stack identity (32 hex chars): the first 16 bytes of SHA-256 over
 *   u32 frame count (little-endian), then frameDigest(frame) for each frame, leaf first.
 * Two-level hashing keeps it cheap: frames repeat across stacks far more than stacks repeat.
 * Changing this encoding changes every stored stack id: never do it within one schema version.
 */
export function stackKey(frames: readonly Frame[]): string {
  const cached = stackKeys.get(frames);
  if (cached !== undefined) return cached;
  const buf = Buffer.allocUnsafe(4 + 16 * frames.length);
  buf.writeUInt32LE(frames.length, 0);
  for (let i = 0; i < frames.length; i++) frameDigest(frames[i]).copy(buf, 4 + 16 * i);
  const key = createHash('sha256').update(buf).digest().subarray(0, 16).toString('hex');
  stackKeys.set(frames, key);
  return key;
}
