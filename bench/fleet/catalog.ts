import type { Frame } from '@firn/profiles';
import { deriveSeed, gaussian, mulberry32, randInt, shuffle, type Rng } from './prng';

/** Shape of the fleet's code, fixed by FLEET-1H.md. */
export const FLEET_BINARIES = 40;
export const FLEET_SHARED_LIBS = 8;
export const FLEET_APP_BINARIES = FLEET_BINARIES - FLEET_SHARED_LIBS;
export const FLEET_FUNCTIONS = 5000;
export const FLEET_STACKS = 20_000;
export const STACKS_PER_APP = FLEET_STACKS / FLEET_APP_BINARIES;
export const MIN_DEPTH = 8;
export const MAX_DEPTH = 64;
const MEDIAN_DEPTH = 24;
const DEPTH_SIGMA = 0.4;
const LIB_FUNCTIONS = 100;

const SHARED_LIBS = [
  '/usr/lib/x86_64-linux-gnu/libc.so.6',
  '/usr/lib/x86_64-linux-gnu/libstdc++.so.6',
  '/usr/lib/x86_64-linux-gnu/libm.so.6',
  '/usr/lib/x86_64-linux-gnu/libssl.so.3',
  '/usr/lib/x86_64-linux-gnu/libcrypto.so.3',
  '/usr/lib/x86_64-linux-gnu/libz.so.1',
  '/usr/lib/x86_64-linux-gnu/libgcc_s.so.1',
  '/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2',
];
const LIBC = 0;
// Reserved function slots: the roots every thread starts from.
const LIBC_START_MAIN = 0;
const LIBC_START_THREAD = 1;
const LIBC_CLONE3 = 2;
const APP_START = 0;
const APP_MAIN = 1;
const APP_WORKER_MAIN = 2;
const RESERVED = 3;

export interface FleetBinary {
  index: number;
  path: string;
  /** 40 lowercase hex chars, like a GNU build id (SHA-1). */
  buildId: string;
  shared: boolean;
  /** Global function ids, in address order. */
  functions: number[];
}

export interface FleetFunction {
  id: number;
  binary: number;
  name: string;
  file: string;
  /** File-relative start address. */
  start: number;
  size: number;
  /** A few call-site offsets: callers return into the same places, as in real code. */
  callSites: number[];
}

export interface FleetCatalog {
  seed: number;
  symbolized: boolean;
  binaries: FleetBinary[];
  functions: FleetFunction[];
  /** Leaf-first stacks; frame objects are shared between stacks. */
  stacks: Frame[][];
  /** Owning app binary of each stack (its root). */
  stackBinary: Uint16Array;
  /** Stack ids per app binary (index 0 = binary FLEET_SHARED_LIBS). */
  stacksByApp: Uint32Array[];
}

function hex(rng: Rng, chars: number): string {
  let s = '';
  for (let i = 0; i < chars; i++) s += Math.floor(rng() * 16).toString(16);
  return s;
}

function buildBinaries(rng: Rng): FleetBinary[] {
  const out: FleetBinary[] = [];
  for (let i = 0; i < FLEET_BINARIES; i++) {
    const shared = i < FLEET_SHARED_LIBS;
    const path = shared ? SHARED_LIBS[i] : `/app/bin/svc-${String(i - FLEET_SHARED_LIBS).padStart(2, '0')}`;
    out.push({ index: i, path, buildId: hex(rng, 40), shared, functions: [] });
  }
  return out;
}

function buildFunctions(rng: Rng, binaries: FleetBinary[]): FleetFunction[] {
  const out: FleetFunction[] = [];
  const appFunctions = FLEET_FUNCTIONS - FLEET_SHARED_LIBS * LIB_FUNCTIONS;
  for (const bin of binaries) {
    const app = bin.index - FLEET_SHARED_LIBS;
    // Spread the remainder over the first apps so the total is exactly FLEET_FUNCTIONS.
    const count = bin.shared ? LIB_FUNCTIONS : Math.floor(appFunctions / FLEET_APP_BINARIES) + (app < appFunctions % FLEET_APP_BINARIES ? 1 : 0);
    let addr = 0x1000 + randInt(rng, 0, 64) * 16;
    for (let k = 0; k < count; k++) {
      const size = 32 + randInt(rng, 0, 256) * 16;
      const sites = 1 + randInt(rng, 0, 5);
      // Distinct offsets: two sites at one address would be one frame under two names.
      const offsets = new Set<number>();
      for (let c = 0; c < sites; c++) offsets.add(1 + randInt(rng, 0, size - 1));
      const callSites = [...offsets];
      const base = bin.shared ? bin.path.slice(bin.path.lastIndexOf('/') + 1).split('.')[0] : `svc${String(app).padStart(2, '0')}`;
      const fn: FleetFunction = {
        id: out.length,
        binary: bin.index,
        name: `${base}::${k < RESERVED ? ['entry', 'main', 'worker'][k] : `fn_${k}`}`,
        file: `src/${base}/mod_${k % 17}.c`,
        start: addr,
        size,
        callSites,
      };
      bin.functions.push(fn.id);
      out.push(fn);
      addr += size + randInt(rng, 0, 4) * 16;
    }
  }
  return out;
}

/** Frames are interned so stacks share frame objects (as decoders produce them). */
class FrameTable {
  private readonly byKey = new Map<number, Frame>();

  constructor(
    private readonly catalog: Pick<FleetCatalog, 'binaries' | 'functions'>,
    private readonly symbolize: boolean,
  ) {}

  frame(fnId: number, site: number): Frame {
    const key = fnId * 8 + site;
    let f = this.byKey.get(key);
    if (!f) {
      const fn = this.catalog.functions[fnId];
      const bin = this.catalog.binaries[fn.binary];
      const offset = fn.callSites[site];
      f = {
        buildId: bin.buildId,
        mappingFile: bin.path,
        address: BigInt(fn.start + offset),
        functionName: this.symbolize ? fn.name : '',
        fileName: this.symbolize ? fn.file : '',
        line: this.symbolize ? 10 + Math.floor(offset / 8) : 0,
        inlined: false,
      };
      this.byKey.set(key, f);
    }
    return f;
  }
}

function targetDepth(rng: Rng): number {
  const d = Math.round(Math.exp(Math.log(MEDIAN_DEPTH) + DEPTH_SIGMA * gaussian(rng)));
  return Math.min(MAX_DEPTH, Math.max(MIN_DEPTH, d));
}

/**
 * Root-first call paths for one app: a couple of thread roots, a few deep framework spines
 * most stacks start with, then stacks that branch off earlier stacks (a call tree) and end in
 * app code or, often, in a shared library (memcpy, malloc, SSL...).
 */
function appPaths(rng: Rng, cat: Pick<FleetCatalog, 'binaries' | 'functions'>, bin: FleetBinary, count: number): Array<Array<[number, number]>> {
  const libc = cat.binaries[LIBC].functions;
  const roots: Array<Array<[number, number]>> = [
    [
      [bin.functions[APP_START], 0],
      [libc[LIBC_START_MAIN], 0],
      [bin.functions[APP_MAIN], 0],
    ],
    [
      [libc[LIBC_CLONE3], 0],
      [libc[LIBC_START_THREAD], 0],
      [bin.functions[APP_WORKER_MAIN], 0],
    ],
  ];
  const call = (fnId: number): [number, number] => [fnId, randInt(rng, 0, cat.functions[fnId].callSites.length)];
  const appFn = (): [number, number] => call(bin.functions[randInt(rng, RESERVED, bin.functions.length)]);
  const libFn = (): [number, number] => {
    const lib = cat.binaries[randInt(rng, 0, FLEET_SHARED_LIBS)];
    return call(lib.functions[randInt(rng, RESERVED, lib.functions.length)]);
  };
  const spines: Array<Array<[number, number]>> = [];
  for (let s = 0; s < 6; s++) {
    const spine = [...roots[s % 2]];
    const extra = randInt(rng, 3, 11);
    for (let i = 0; i < extra; i++) spine.push(rng() < 0.15 ? libFn() : appFn());
    spines.push(spine);
  }
  const seen = new Set<string>();
  const out: Array<Array<[number, number]>> = [];
  while (out.length < count) {
    const depth = targetDepth(rng);
    const r = rng();
    const parent =
      r < 0.3 || out.length === 0 ? spines[randInt(rng, 0, spines.length)] : r < 0.95 ? out[randInt(rng, 0, out.length)] : roots[randInt(rng, 0, 2)];
    const maxPrefix = Math.min(parent.length, depth - 1);
    const prefix = Math.max(3, Math.min(maxPrefix, Math.round(maxPrefix * (0.5 + 0.5 * rng()))));
    const path = parent.slice(0, prefix);
    const libTail = rng() < 0.4 ? randInt(rng, 1, 4) : 0;
    while (path.length < depth) path.push(path.length >= depth - libTail ? libFn() : rng() < 0.08 ? libFn() : appFn());
    const key = path.map(([f, s]) => f * 8 + s).join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(path);
  }
  return out;
}

const cache = new Map<string, FleetCatalog>();

/** The fleet's binaries, functions and 20 000 stacks for a seed (memoised: it is immutable). */
export function fleetCatalog(seed: number, symbolize = false): FleetCatalog {
  const cacheKey = `${seed}:${symbolize}`;
  const hit = cache.get(cacheKey);
  if (hit) return hit;
  const rng = mulberry32(deriveSeed(seed, 0xc0de));
  const binaries = buildBinaries(rng);
  const functions = buildFunctions(rng, binaries);
  const frames = new FrameTable({ binaries, functions }, symbolize);
  const stacks: Frame[][] = [];
  const stackBinary = new Uint16Array(FLEET_STACKS);
  const stacksByApp: Uint32Array[] = [];
  for (let app = 0; app < FLEET_APP_BINARIES; app++) {
    const bin = binaries[FLEET_SHARED_LIBS + app];
    const paths = appPaths(mulberry32(deriveSeed(seed, 0xc0de, app)), { binaries, functions }, bin, STACKS_PER_APP);
    const ids = new Uint32Array(paths.length);
    paths.forEach((path, i) => {
      ids[i] = stacks.length;
      stackBinary[stacks.length] = bin.index;
      stacks.push(path.map(([fn, site]) => frames.frame(fn, site)).reverse());
    });
    stacksByApp.push(ids);
  }
  // Stack ids are interleaved across apps so "stack 0..n" is not one app's code.
  const order = shuffle(
    mulberry32(deriveSeed(seed, 0x5eed)),
    stacks.map((_, i) => i),
  );
  const renumber = new Uint32Array(stacks.length);
  order.forEach((oldId, newId) => (renumber[oldId] = newId));
  const catalog: FleetCatalog = {
    seed,
    symbolized: symbolize,
    binaries,
    functions,
    stacks: order.map((oldId) => stacks[oldId]),
    stackBinary: Uint16Array.from(order, (oldId) => stackBinary[oldId]),
    stacksByApp: stacksByApp.map((ids) => ids.map((id) => renumber[id])),
  };
  cache.set(cacheKey, catalog);
  return catalog;
}
