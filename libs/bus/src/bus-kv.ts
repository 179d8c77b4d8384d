import { FirnError } from '@firn/errors';
import type { KV } from 'nats';
import { toFirnError } from './nats-errors';

/** A key's current value; deleted and purged keys have none. */
export interface BusKvEntry {
  readonly key: string;
  readonly value: Uint8Array;
  /** The KV revision (stream seq) of this write: the token for compare-and-set. */
  readonly revision: number;
}

/** One change seen by `watch`: `value` undefined = the key was deleted or purged. */
export interface BusKvChange {
  readonly key: string;
  readonly value: Uint8Array | undefined;
  readonly revision: number;
}

export interface BusKvWatch {
  stop(): Promise<void>;
}

/**
 * A NATS KV bucket (`Bus.ensureKv`). Conditional writes (`create`, `update`, `delete` at a
 * revision) are compare-and-set on the key's last revision and fail with `CasConflictError`
 * when someone else wrote it first; every other failure is a `FirnError` (usually unavailable).
 */
export class BusKv {
  constructor(
    private readonly kv: KV,
    readonly bucket: string,
  ) {}

  /** The key's value, or undefined when it was never written, was deleted or purged. */
  async get(key: string): Promise<BusKvEntry | undefined> {
    try {
      const e = await this.kv.get(key);
      return e && e.operation === 'PUT' ? { key, value: e.value, revision: e.revision } : undefined;
    } catch (err) {
      throw toFirnError(err, this.what('read', key));
    }
  }

  /** Unconditional write; resolves with the new revision. */
  async put(key: string, value: Uint8Array): Promise<number> {
    try {
      return await this.kv.put(key, value);
    } catch (err) {
      throw toFirnError(err, this.what('write', key));
    }
  }

  /** Writes a key that has no value (never written, deleted or purged); else CasConflictError. */
  async create(key: string, value: Uint8Array): Promise<number> {
    try {
      return await this.kv.create(key, value);
    } catch (err) {
      throw toFirnError(err, this.what('create', key));
    }
  }

  /** Writes the key only if its last revision is `revision`; else CasConflictError. */
  async update(key: string, value: Uint8Array, revision: number): Promise<number> {
    if (!Number.isSafeInteger(revision) || revision < 1)
      throw FirnError.invalidArgument(`${this.what('update', key)}: revision must be a positive integer, got ${revision}`);
    try {
      return await this.kv.update(key, value, revision);
    } catch (err) {
      throw toFirnError(err, this.what('update', key));
    }
  }

  /**
   * Deletes the key (a tombstone, so watchers see it go). With `revision`, only if that is still
   * the key's last revision; else CasConflictError.
   */
  async delete(key: string, opts: { revision?: number } = {}): Promise<void> {
    try {
      await this.kv.delete(key, opts.revision !== undefined ? { previousSeq: opts.revision } : undefined);
    } catch (err) {
      throw toFirnError(err, this.what('delete', key));
    }
  }

  /** Keys that currently have a value, optionally only those matching `filter` (e.g. `q.>`). */
  async keys(filter?: string): Promise<string[]> {
    try {
      const out: string[] = [];
      for await (const k of await this.kv.keys(filter)) out.push(k);
      return out;
    } catch (err) {
      throw toFirnError(err, `list keys of KV bucket ${this.bucket}`);
    }
  }

  /**
   * Calls `onChange` with the current value of every key (deleted ones included), then with every
   * later change, until `stop()`. `onEnd` runs if the feed ends by itself (with the error, if any).
   */
  async watch(onChange: (c: BusKvChange) => void, onEnd: (err?: unknown) => void): Promise<BusKvWatch> {
    let stopped = false;
    let it: Awaited<ReturnType<KV['watch']>>;
    try {
      it = await this.kv.watch({ key: '>' });
    } catch (err) {
      throw toFirnError(err, `watch KV bucket ${this.bucket}`);
    }
    void (async () => {
      try {
        for await (const e of it) onChange({ key: e.key, value: e.operation === 'PUT' ? e.value : undefined, revision: e.revision });
        if (!stopped) onEnd();
      } catch (err) {
        if (!stopped) onEnd(toFirnError(err, `watch KV bucket ${this.bucket}`));
      }
    })();
    return {
      stop: async () => {
        stopped = true;
        it.stop();
      },
    };
  }

  private what(op: string, key: string): string {
    return `${op} ${key} in KV bucket ${this.bucket}`;
  }
}
