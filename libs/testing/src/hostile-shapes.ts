import { gzipSync } from 'node:zlib';
import { SampleBatchBuilder, samplesToArrow, type Frame } from '@firn/profiles';

/**
 * Well-formed but hostile profiles: small on the wire, huge once a decoder materialises them.
 * Each is what an attacker (or a buggy client) can send within the default request limits; the
 * gateway must refuse or accept each within a fixed memory budget. Written as raw protobuf so the
 * shapes are exact and cheap to build (a few MB of plain bytes, gzip to KBs).
 */

/** Appends protobuf wire data; `bytes()` returns what was written. */
class Wire {
  private buf = Buffer.alloc(64);
  private n = 0;

  private room(k: number): void {
    if (this.n + k <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.n + k) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.n);
    this.buf = next;
  }

  varint(v: number): this {
    this.room(10);
    while (v >= 0x80) {
      this.buf[this.n++] = (v % 0x80) | 0x80;
      v = Math.floor(v / 0x80);
    }
    this.buf[this.n++] = v;
    return this;
  }

  tag(field: number, wireType: number): this {
    return this.varint(field * 8 + wireType);
  }

  /** A varint field. */
  uint(field: number, v: number): this {
    return this.tag(field, 0).varint(v);
  }

  /** A length-delimited field. */
  len(field: number, data: Uint8Array): this {
    this.tag(field, 2).varint(data.length);
    this.room(data.length);
    this.buf.set(data, this.n);
    this.n += data.length;
    return this;
  }

  bytes(): Buffer {
    return this.buf.subarray(0, this.n);
  }
}

function msg(build: (w: Wire) => void): Buffer {
  const w = new Wire();
  build(w);
  return w.bytes();
}

const S = { empty: 0, samples: 1, count: 2, main: 3, key: 4, value: 5 };
const BASE_STRINGS = ['', 'samples', 'count', 'main', 'key', 'value'];

/** pprof header: string table, one sample type, one function and one location (id 1). */
function header(w: Wire, extraStrings = 0): void {
  for (const s of BASE_STRINGS) w.len(6, Buffer.from(s));
  for (let i = 0; i < extraStrings; i++) w.len(6, new Uint8Array(0));
  w.len(
    1,
    msg((v) => v.uint(1, S.samples).uint(2, S.count)),
  );
  w.len(
    5,
    msg((f) => f.uint(1, 1).uint(2, S.main)),
  );
  w.len(
    4,
    msg((l) =>
      l.uint(1, 1).len(
        4,
        msg((line) => line.uint(1, 1)),
      ),
    ),
  );
}

function packed(ids: ArrayLike<number>): Buffer {
  const w = new Wire();
  for (let i = 0; i < ids.length; i++) w.varint(ids[i]);
  return w.bytes();
}

export interface HostileShape {
  name: string;
  /** What the gateway receives (gzip pprof, folded text, …). */
  body: Buffer;
  /** Bytes once inflated: what the decoder walks. */
  plainBytes: number;
}

/** One sample whose stack is `depth` frames deep (the same location repeated). */
export function deepStackPprof(depth: number): HostileShape {
  const plain = msg((w) => {
    header(w);
    w.len(
      2,
      msg((s) => s.len(1, packed(new Uint8Array(depth).fill(1))).len(2, packed([1]))),
    );
  });
  return { name: `pprof: one stack ${depth} frames deep`, body: gzipSync(plain), plainBytes: plain.length };
}

/** `samples` samples, each with its own stack of `depth` distinct locations. */
export function manyDeepStacksPprof(samples: number, depth: number): HostileShape {
  const plain = msg((w) => {
    header(w);
    const locations = samples + depth;
    // Distinct addresses make distinct frames (and so distinct stacks).
    for (let id = 2; id <= locations; id++)
      w.len(
        4,
        msg((l) =>
          l
            .uint(1, id)
            .uint(3, 0x1000 + id)
            .len(
              4,
              msg((line) => line.uint(1, 1)),
            ),
        ),
      );
    const ids = new Uint32Array(depth);
    for (let s = 0; s < samples; s++) {
      for (let d = 0; d < depth; d++) ids[d] = 2 + ((s + d) % (locations - 1));
      w.len(
        2,
        msg((m) => m.len(1, packed(ids)).len(2, packed([1]))),
      );
    }
  });
  return { name: `pprof: ${samples} samples with distinct stacks ${depth} frames deep`, body: gzipSync(plain), plainBytes: plain.length };
}

/** A string table of `n` (empty) entries and one ordinary sample. */
export function hugeStringTablePprof(n: number): HostileShape {
  const plain = msg((w) => {
    header(w, n);
    w.len(
      2,
      msg((s) => s.len(1, packed([1])).len(2, packed([1]))),
    );
  });
  return { name: `pprof: string table of ${n} entries`, body: gzipSync(plain), plainBytes: plain.length };
}

/** `n` locations and `n` functions nobody references, and one ordinary sample. */
export function hugeLocationTablePprof(n: number): HostileShape {
  const plain = msg((w) => {
    header(w);
    for (let id = 2; id <= n; id++) {
      w.len(
        5,
        msg((f) => f.uint(1, id).uint(2, S.main)),
      );
      w.len(
        4,
        msg((l) =>
          l
            .uint(1, id)
            .uint(3, id)
            .len(
              4,
              msg((line) => line.uint(1, id).uint(2, id)),
            ),
        ),
      );
    }
    w.len(
      2,
      msg((s) => s.len(1, packed([1])).len(2, packed([1]))),
    );
  });
  return { name: `pprof: ${n} locations and functions`, body: gzipSync(plain), plainBytes: plain.length };
}

/** One sample carrying `n` labels. */
export function manyLabelsPprof(n: number): HostileShape {
  const label = msg((l) => l.uint(1, S.key).uint(2, S.value));
  const plain = msg((w) => {
    header(w);
    w.len(
      2,
      msg((s) => {
        s.len(1, packed([1])).len(2, packed([1]));
        for (let i = 0; i < n; i++) s.len(3, label);
      }),
    );
  });
  return { name: `pprof: one sample with ${n} labels`, body: gzipSync(plain), plainBytes: plain.length };
}

/** `n` samples, each with a label value of its own (so `n` series). */
export function manySeriesPprof(n: number): HostileShape {
  const plain = msg((w) => {
    for (const s of BASE_STRINGS) w.len(6, Buffer.from(s));
    for (let i = 0; i < n; i++) w.len(6, Buffer.from(`v${i}`));
    w.len(
      1,
      msg((v) => v.uint(1, S.samples).uint(2, S.count)),
    );
    w.len(
      5,
      msg((f) => f.uint(1, 1).uint(2, S.main)),
    );
    w.len(
      4,
      msg((l) =>
        l.uint(1, 1).len(
          4,
          msg((line) => line.uint(1, 1)),
        ),
      ),
    );
    for (let i = 0; i < n; i++) {
      const value = BASE_STRINGS.length + i;
      w.len(
        2,
        msg((s) =>
          s
            .len(1, packed([1]))
            .len(2, packed([1]))
            .len(
              3,
              msg((l) => l.uint(1, S.key).uint(2, value)),
            ),
        ),
      );
    }
  });
  return { name: `pprof: ${n} samples with a series each`, body: gzipSync(plain), plainBytes: plain.length };
}

/** Folded text: one line `depth` frames deep. */
export function deepFolded(depth: number): HostileShape {
  const body = Buffer.from(`${'f;'.repeat(depth - 1)}f 1\n`);
  return { name: `folded: one stack ${depth} frames deep`, body, plainBytes: body.length };
}

/** Folded text: `lines` distinct lines, each `depth` distinct frames deep. */
export function manyFoldedStacks(lines: number, depth: number): HostileShape {
  const parts: string[] = [];
  for (let i = 0; i < lines; i++) {
    const frames: string[] = [];
    for (let d = 0; d < depth; d++) frames.push(`fn_${(i * 7 + d) % 100_003}`);
    parts.push(`${frames.join(';')} 1`);
  }
  const body = Buffer.from(parts.join('\n'));
  return { name: `folded: ${lines} stacks ${depth} frames deep`, body, plainBytes: body.length };
}

function frame(fn: string): Frame {
  return { buildId: '', mappingFile: '', address: 0n, functionName: fn, fileName: '', line: 0, inlined: false };
}

/** firn.samples.v1 Arrow: one row whose stack is `depth` frames deep. */
export function deepStackArrow(depth: number): HostileShape {
  const b = new SampleBatchBuilder();
  const f = frame('f');
  b.add(ARROW_TYPE, [['node', 'n']], new Array<Frame>(depth).fill(f), 1, Date.now() - 60_000, 0, 0);
  const body = Buffer.from(samplesToArrow(b.build()));
  return { name: `arrow: one stack ${depth} frames deep`, body, plainBytes: body.length };
}

/** firn.samples.v1 Arrow: `rows` rows, each its own stack of `depth` distinct frames. */
export function manyFramesArrow(rows: number, depth: number): HostileShape {
  const b = new SampleBatchBuilder();
  const ts = Date.now() - 60_000;
  for (let r = 0; r < rows; r++)
    b.add(
      ARROW_TYPE,
      [['node', 'n']],
      Array.from({ length: depth }, (_, d) => frame(`fn_${r}_${d}`)),
      1,
      ts,
      0,
      0,
    );
  const body = Buffer.from(samplesToArrow(b.build()));
  return { name: `arrow: ${rows} stacks of ${depth} distinct frames`, body, plainBytes: body.length };
}

const ARROW_TYPE = 'parca_agent:samples:count:cpu:nanoseconds:delta';
