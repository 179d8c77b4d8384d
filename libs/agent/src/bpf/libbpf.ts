import type * as Koffi from 'koffi' with { 'resolution-mode': 'import' };
import { FirnError } from '@firn/errors';

// koffi's typings are written as ESM; its CommonJS build is what this CommonJS module loads.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const koffi = require('koffi') as typeof Koffi;

/**
 * The only file that talks to libbpf (libbpf.so.1 from libbpf-dev) and libc. Everything is
 * synchronous: each call is a short syscall, and keeping them on the main thread keeps the
 * drain's ordering obvious.
 */
export interface LibBpf {
  openObject(path: string): unknown;
  loadObject(obj: unknown): number;
  findProgram(obj: unknown, name: string): unknown;
  findMapFd(obj: unknown, name: string): number;
  attachPerfEvent(prog: unknown, perfFd: number): unknown;
  destroyLink(link: unknown): void;
  closeObject(obj: unknown): void;
  mapGetNextKey(fd: number, key: Buffer | null, next: Buffer): number;
  mapLookup(fd: number, key: Buffer, value: Buffer): number;
  mapUpdate(fd: number, key: Buffer, value: Buffer, flags: number): number;
  mapDelete(fd: number, key: Buffer): number;
  /** Pops the head of a QUEUE map into `value` (0, or a negative errno when empty). */
  mapPop(fd: number, value: Buffer): number;
  /**
   * Creates a map outside the object (inner maps of map-in-map); returns its fd or a negative
   * errno. `flags` are BPF_F_* map flags.
   */
  mapCreate(type: number, name: string, keySize: number, valueSize: number, maxEntries: number, flags: number): number;
  /** Updates `count` consecutive keys/values in one syscall; returns 0 or a negative errno. */
  mapUpdateBatch(fd: number, keys: Buffer, values: Buffer, count: number): number;
  perfEventOpen(attr: Buffer, pid: number, cpu: number, groupFd: number, flags: number): number;
  close(fd: number): number;
  errno(): number;
}

let cached: LibBpf | undefined;

/** Loads libbpf once per process; throws FirnError `unavailable` when the library is missing. */
export function loadLibBpf(path = 'libbpf.so.1'): LibBpf {
  if (cached) return cached;
  let lib: Koffi.LibraryHandle;
  let libc: Koffi.LibraryHandle;
  try {
    lib = koffi.load(path);
    libc = koffi.load('libc.so.6');
  } catch (err) {
    throw FirnError.unavailable(`cannot load ${path} (install libbpf-dev / libbpf1): ${(err as Error).message}`);
  }
  const obj = koffi.opaque('bpf_object');
  const prog = koffi.opaque('bpf_program');
  const link = koffi.opaque('bpf_link');
  const open = lib.func('bpf_object__open_file', koffi.pointer(obj), ['const char *', 'void *']) as (p: string, o: null) => unknown;
  const load = lib.func('bpf_object__load', 'int', [koffi.pointer(obj)]) as (o: unknown) => number;
  const findProg = lib.func('bpf_object__find_program_by_name', koffi.pointer(prog), [koffi.pointer(obj), 'const char *']) as (
    o: unknown,
    n: string,
  ) => unknown;
  const findMapFd = lib.func('bpf_object__find_map_fd_by_name', 'int', [koffi.pointer(obj), 'const char *']) as (o: unknown, n: string) => number;
  const attach = lib.func('bpf_program__attach_perf_event', koffi.pointer(link), [koffi.pointer(prog), 'int']) as (p: unknown, fd: number) => unknown;
  const destroy = lib.func('bpf_link__destroy', 'int', [koffi.pointer(link)]) as (l: unknown) => number;
  const closeObj = lib.func('bpf_object__close', 'void', [koffi.pointer(obj)]) as (o: unknown) => void;
  const nextKey = lib.func('bpf_map_get_next_key', 'int', ['int', 'void *', 'void *']) as (fd: number, k: Buffer | null, n: Buffer) => number;
  const lookup = lib.func('bpf_map_lookup_elem', 'int', ['int', 'void *', 'void *']) as (fd: number, k: Buffer, v: Buffer) => number;
  const update = lib.func('bpf_map_update_elem', 'int', ['int', 'void *', 'void *', 'uint64_t']) as (fd: number, k: Buffer, v: Buffer, f: number) => number;
  const del = lib.func('bpf_map_delete_elem', 'int', ['int', 'void *']) as (fd: number, k: Buffer) => number;
  const lookupAndDelete = lib.func('bpf_map_lookup_and_delete_elem', 'int', ['int', 'void *', 'void *']) as (fd: number, k: Buffer | null, v: Buffer) => number;
  const create = lib.func('bpf_map_create', 'int', ['int', 'const char *', 'uint32_t', 'uint32_t', 'uint32_t', 'void *']) as (
    type: number,
    name: string,
    keySize: number,
    valueSize: number,
    maxEntries: number,
    opts: Buffer,
  ) => number;
  const updateBatch = lib.func('bpf_map_update_batch', 'int', ['int', 'void *', 'void *', 'void *', 'void *']) as (
    fd: number,
    k: Buffer,
    v: Buffer,
    count: Buffer,
    opts: Buffer,
  ) => number;
  const syscall = libc.func('long syscall(long number, ...)') as (...args: unknown[]) => number;
  const close = libc.func('int close(int fd)') as (fd: number) => number;
  const SYS_perf_event_open = 298; // x86-64

  cached = {
    openObject: (p) => open(p, null),
    loadObject: load,
    findProgram: findProg,
    findMapFd,
    attachPerfEvent: attach,
    destroyLink: (l) => void destroy(l),
    closeObject: closeObj,
    mapGetNextKey: nextKey,
    mapLookup: lookup,
    mapUpdate: update,
    mapDelete: del,
    mapPop: (fd, value) => lookupAndDelete(fd, null, value),
    mapCreate: (type, name, keySize, valueSize, maxEntries, flags) => {
      // struct bpf_map_create_opts (libbpf 1.1): sz, btf_fd, btf_key_type_id, btf_value_type_id,
      // btf_vmlinux_value_type_id, inner_map_fd, map_flags, map_extra, numa_node, map_ifindex.
      const opts = Buffer.alloc(48);
      opts.writeBigUInt64LE(48n, 0);
      opts.writeUInt32LE(flags >>> 0, 28);
      return create(type, name, keySize, valueSize, maxEntries, opts);
    },
    mapUpdateBatch: (fd, keys, values, count) => {
      const n = Buffer.alloc(4);
      n.writeUInt32LE(count);
      const opts = Buffer.alloc(24); // struct bpf_map_batch_opts { sz; elem_flags; flags; }
      opts.writeBigUInt64LE(24n, 0);
      return updateBatch(fd, keys, values, n, opts);
    },
    perfEventOpen: (attr, pid, cpu, groupFd, flags) =>
      Number(syscall(SYS_perf_event_open, 'void *', attr, 'int', pid, 'int', cpu, 'int', groupFd, 'unsigned long', flags)),
    close,
    errno: () => koffi.errno(),
  };
  return cached;
}
