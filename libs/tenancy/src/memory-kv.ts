import { ErrorCode, FirnError } from '@firn/errors';
import type { KvEntry, RecordKv } from './kv-tenant-store';

/** An in-process RecordKv with the same semantics as the NATS adapter (for unit tests). */
export class MemoryRecordKv implements RecordKv {
  private readonly data = new Map<string, KvEntry>();
  private readonly watchers = new Set<(e: KvEntry) => void>();
  private rev = 0;

  async get(key: string): Promise<KvEntry | undefined> {
    const e = this.data.get(key);
    return e?.value ? e : undefined;
  }

  async create(key: string, value: Uint8Array): Promise<number> {
    if (this.data.get(key)?.value) throw new FirnError(ErrorCode.AlreadyExists, `key ${key} exists`);
    return this.put(key, value);
  }

  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    if (this.data.get(key)?.revision !== revision) throw new FirnError(ErrorCode.Aborted, `key ${key} changed`);
    return this.put(key, value);
  }

  async entries(): Promise<KvEntry[]> {
    return [...this.data.values()].filter((e) => e.value !== undefined);
  }

  async watch(onEntry: (e: KvEntry) => void): Promise<{ stop(): Promise<void> }> {
    for (const e of await this.entries()) onEntry(e);
    this.watchers.add(onEntry);
    return { stop: async () => void this.watchers.delete(onEntry) };
  }

  /** Writes without notifying watchers: what a missed watch event looks like. */
  putSilently(key: string, value: Uint8Array | undefined): void {
    this.data.set(key, { key, value, revision: ++this.rev });
  }

  private put(key: string, value: Uint8Array | undefined): number {
    const e = { key, value, revision: ++this.rev };
    this.data.set(key, e);
    for (const w of this.watchers) w(e);
    return e.revision;
  }
}
