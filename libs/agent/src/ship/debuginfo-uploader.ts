import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { createClient, type Transport } from '@connectrpc/connect';
import { readElfFile } from '@firn/elf';
import type { Logger } from '@firn/observability';
import { debuginfoV1alpha1 } from '@firn/proto';

const run = promisify(execFile);
const { DebuginfoService, UploadInstructions_UploadStrategy: Strategy, BuildIDType } = debuginfoV1alpha1;

const CHUNK = 1 << 20;
const MAX_KNOWN = 50_000;
/** A failed build id is offered again after this long. */
const RETRY_AFTER_MS = 5 * 60_000;

export interface DebuginfoUploaderOptions {
  transport: Transport;
  logger: Logger;
  timeoutMs: number;
  /** Override for tests; default: objcopy from binutils. */
  objcopy?: string;
}

/**
 * Parca's upload protocol, one file at a time: ShouldInitiateUpload → InitiateUpload → (gRPC
 * Upload stream | PUT to a signed URL) → MarkUploadFinished. What is uploaded is the file stripped
 * to its debug sections and symbols (`objcopy --only-keep-debug`), or the whole file when objcopy is
 * missing or fails, or for a Go binary without DWARF (its names are in `.gopclntab`). Each build id is tried once per process lifetime unless it failed.
 */
export class DebuginfoUploader {
  private readonly client;
  private readonly known = new Map<string, number>();
  private readonly queue: Array<{ buildId: string; path: string }> = [];
  private working: Promise<void> | undefined;
  private stopped = false;
  uploaded = 0;

  constructor(private readonly opts: DebuginfoUploaderOptions) {
    this.client = createClient(DebuginfoService, opts.transport);
  }

  /** Files seen in a window (build id → a path readable by the agent). */
  offer(files: ReadonlyArray<{ buildId: string; path: string }>): void {
    const now = Date.now();
    for (const f of files) {
      if (!/^[0-9a-f]+$/.test(f.buildId)) continue; // content hashes: nothing to ask for
      const retryAt = this.known.get(f.buildId);
      if (retryAt !== undefined && retryAt > now) continue;
      if (this.known.size >= MAX_KNOWN) this.known.clear();
      this.known.set(f.buildId, Number.MAX_SAFE_INTEGER);
      this.queue.push(f);
    }
    this.working ??= this.work().finally(() => (this.working = undefined));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.queue.length = 0;
    await this.working;
  }

  /** Uploads one file if the server wants it; returns whether it did. */
  async upload(buildId: string, path: string): Promise<boolean> {
    const call = { timeoutMs: this.opts.timeoutMs };
    const should = await this.client.shouldInitiateUpload({ buildId, buildIdType: BuildIDType.BUILD_ID_TYPE_GNU }, call);
    if (!should.shouldInitiateUpload) return false;
    const data = await this.debugFile(path);
    const hash = createHash('sha256').update(data).digest('hex');
    const init = await this.client.initiateUpload({ buildId, size: BigInt(data.length), hash, buildIdType: BuildIDType.BUILD_ID_TYPE_GNU }, call);
    const ins = init.uploadInstructions;
    if (!ins) throw new Error(`InitiateUpload for ${buildId} returned no instructions`);
    if (ins.uploadStrategy === Strategy.SIGNED_URL) {
      const res = await fetch(ins.signedUrl, { method: 'PUT', body: data, signal: AbortSignal.timeout(this.opts.timeoutMs) });
      if (!res.ok) throw new Error(`PUT to the signed URL failed: HTTP ${res.status}`);
    } else {
      await this.client.upload(
        (async function* () {
          yield { data: { case: 'info' as const, value: { buildId, uploadId: ins.uploadId, type: ins.type } } };
          for (let i = 0; i < data.length; i += CHUNK) yield { data: { case: 'chunkData' as const, value: data.subarray(i, i + CHUNK) } };
        })(),
        { timeoutMs: this.opts.timeoutMs * 4 },
      );
    }
    await this.client.markUploadFinished({ buildId, uploadId: ins.uploadId, type: ins.type }, call);
    return true;
  }

  private async work(): Promise<void> {
    for (let f = this.queue.shift(); f && !this.stopped; f = this.queue.shift()) {
      try {
        if (await this.upload(f.buildId, f.path)) {
          this.uploaded++;
          this.opts.logger.info({ build_id: f.buildId }, 'uploaded debuginfo');
        }
      } catch (err) {
        this.known.set(f.buildId, Date.now() + RETRY_AFTER_MS);
        this.opts.logger.warn({ build_id: f.buildId, err: String(err) }, 'debuginfo upload failed; will retry later');
      }
    }
  }

  private async debugFile(path: string): Promise<Buffer> {
    // A Go binary without DWARF is named from .gopclntab (+ moduledata, inline trees in .rodata):
    // --only-keep-debug would turn those into NOBITS, so the file goes as it is.
    const elf = await readElfFile(path).catch(() => undefined);
    if (elf && !elf.hasDwarf && (elf.goBuildId !== undefined || elf.sections.some((s) => s.name.endsWith('.gopclntab')))) return readFile(path);
    const dir = await mkdtemp(join(tmpdir(), 'firn-agent-debug-'));
    try {
      const out = join(dir, 'debug');
      await run(this.opts.objcopy ?? 'objcopy', ['--only-keep-debug', path, out]);
      return await readFile(out);
    } catch {
      return readFile(path);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  }
}
