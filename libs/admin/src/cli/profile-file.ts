import { isUtf8 } from 'node:buffer';
import { fromBinary } from '@bufbuild/protobuf';
import { FirnError } from '@firn/errors';
import { gzipPprof, isGzip, maybeGunzip, parseProfileType, samplesFromFolded, samplesFromPprof, type SampleBatch } from '@firn/profiles';
import { googleV1 } from '@firn/proto';
import { UsageError } from './args';

export type ProfileFormat = 'pprof' | 'folded';

/**
 * Caps for reading a file locally: generous, since the point is to check the file and name its
 * profile types before upload. The server still applies the tenant's own limits.
 */
const LOCAL_LIMITS = { maxDecompressedBytes: 1 << 30, maxSamples: 100_000_000, maxStackDepth: 1_000_000 };

/** A file as read: its bytes as they are (sent as is) and inflated (inspected). */
export interface ProfileFile {
  path: string;
  bytes: Uint8Array;
  raw: Uint8Array;
  gzip: boolean;
}

/** What the server will store for a file: its profile types with their totals, and when. */
export interface ProfileSummary {
  types: Array<{ type: string; total: number }>;
  /** Sample timestamp (ms). */
  timeMs: number;
  stacks: number;
}

/** Inflates a gzip file (a `.pb.gz` pprof or a gzipped folded text) for inspection. */
export function openProfile(path: string, bytes: Uint8Array): ProfileFile {
  const gzip = isGzip(bytes);
  let raw: Uint8Array;
  try {
    raw = maybeGunzip(bytes, LOCAL_LIMITS.maxDecompressedBytes, path);
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  return { path, bytes, raw, gzip };
}

/**
 * Folded text (`a;b;c 12` per line, UTF-8) or else pprof. A pprof protobuf is never mistaken
 * for folded text: its first byte is a field tag and it holds bytes that are not text.
 */
export function detectFormat(f: ProfileFile): ProfileFormat {
  return looksFolded(f.raw) ? 'folded' : 'pprof';
}

function looksFolded(raw: Uint8Array): boolean {
  if (raw.length === 0 || !isUtf8(raw)) return false;
  const text = Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength).toString('utf8');
  let lines = 0;
  for (const line of text.split('\n')) {
    const l = line.endsWith('\r') ? line.slice(0, -1) : line;
    if (l.trim() === '') continue;
    if (!/^[^\x00-\x08\x0e-\x1f]*\S \d+$/.test(l)) return false;
    lines++;
  }
  return lines > 0;
}

/**
 * The profile name (`__name__`) for a pprof that does not say, from its sample types, as
 * Pyroscope's profilecli does (cpu → process_cpu, allocations → memory), plus the other kinds
 * Go and Node.js profilers write.
 */
export function pprofProfileName(sampleTypes: readonly string[], periodType: string): string {
  if (sampleTypes.includes('cpu') || (periodType === 'cpu' && sampleTypes.includes('samples'))) return 'process_cpu';
  if (sampleTypes.some((t) => /^(alloc|inuse)_(space|objects)$/.test(t))) return 'memory';
  if (sampleTypes.includes('goroutine') || sampleTypes.includes('goroutines')) return 'goroutine';
  if (sampleTypes.includes('wall')) return 'wall';
  return 'pprof';
}

/**
 * Reads a pprof as the server will (same decoder): its sample types, totals and time. The
 * profile name is `name` or, when undefined, chosen from the sample types.
 */
export function inspectPprof(f: ProfileFile, name: string | undefined, nowMs: number): { name: string; summary: ProfileSummary } {
  const PLACEHOLDER = 'x';
  const batch = local(f.path, () => samplesFromPprof(f.raw, { name: PLACEHOLDER, seriesLabels: [], nowMs, limits: LOCAL_LIMITS }));
  const parsed = batch.profileTypes.map((t) => parseProfileType(t));
  const chosen =
    name ??
    pprofProfileName(
      parsed.map((t) => t.sampleType),
      parsed[0]?.periodType ?? '',
    );
  const summary = summarize(batch, nowMs);
  summary.types = summary.types.map((t) => ({ ...t, type: `${chosen}${t.type.slice(PLACEHOLDER.length)}` }));
  return { name: chosen, summary };
}

/** Reads folded text as the server's /ingest will (same parser) for this Pyroscope app name. */
export function inspectFolded(f: ProfileFile, opts: { sampleType: string; sampleRate: number; fromMs: number; untilMs: number }): ProfileSummary {
  const text = Buffer.from(f.raw.buffer, f.raw.byteOffset, f.raw.byteLength).toString('utf8');
  const batch = local(f.path, () => samplesFromFolded(text, { seriesLabels: [], ...opts }));
  return summarize(batch, opts.fromMs);
}

/**
 * A pprof with its time replaced (`--from`, and `--until` for the duration): pprof carries its
 * own time_nanos, which the server uses as the samples' time. Returned gzip-compressed.
 */
export function withPprofTime(f: ProfileFile, fromMs: number, untilMs: number | undefined): Uint8Array {
  const p = local(f.path, () => {
    try {
      return fromBinary(googleV1.ProfileSchema, f.raw);
    } catch (err) {
      throw FirnError.invalidArgument(`malformed pprof: ${(err as Error).message}`);
    }
  });
  p.timeNanos = BigInt(fromMs) * 1_000_000n;
  if (untilMs !== undefined) p.durationNanos = BigInt(untilMs - fromMs) * 1_000_000n;
  return gzipPprof(p);
}

function summarize(b: SampleBatch, fallbackMs: number): ProfileSummary {
  const totals = new Array<number>(b.profileTypes.length).fill(0);
  for (let i = 0; i < b.length; i++) totals[b.profileType[i]] += b.value[i];
  return {
    types: b.profileTypes.map((type, i) => ({ type, total: totals[i] })),
    timeMs: b.length > 0 ? b.timestampMs[0] : fallbackMs,
    stacks: b.stacks.length,
  };
}

/** Decoder errors about the user's file are usage errors, named by the file. */
function local<T>(path: string, fn: () => T): T {
  try {
    return fn();
  } catch (err) {
    if (err instanceof FirnError) throw new UsageError(`${path}: ${err.message}`);
    throw err;
  }
}
