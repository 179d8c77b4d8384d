import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRouterTransport } from '@connectrpc/connect';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildIdOrHash, mappableWithoutBinary, parseElf, readElfFile } from '@firn/elf';
import { createLogger } from '@firn/observability';
import { debuginfoV1alpha1 } from '@firn/proto';
import { DebuginfoUploader } from './debuginfo-uploader';

const { DebuginfoService, BuildIDType, UploadInstructions_UploadStrategy: Strategy } = debuginfoV1alpha1;
const log = createLogger({ level: 'silent', component: 'test' });

/** Parca's DebuginfoService in memory (the protocol is the real one): wants everything, keeps what it gets. */
function server() {
  const got = new Map<string, { type: number; data: Buffer }>();
  const transport = createRouterTransport((router) =>
    router.service(DebuginfoService, {
      shouldInitiateUpload: () => ({ shouldInitiateUpload: true }),
      initiateUpload: (req) => {
        got.set(req.buildId, { type: req.buildIdType, data: Buffer.alloc(0) });
        return { uploadInstructions: { buildId: req.buildId, uploadId: 'u1', uploadStrategy: Strategy.GRPC } };
      },
      upload: async (reqs) => {
        let id = '';
        const parts: Uint8Array[] = [];
        for await (const r of reqs) {
          if (r.data.case === 'info') id = r.data.value.buildId;
          else if (r.data.case === 'chunkData') parts.push(r.data.value);
        }
        const entry = got.get(id);
        if (entry) entry.data = Buffer.concat(parts);
        return { buildId: id, size: BigInt(parts.reduce((a, p) => a + p.length, 0)) };
      },
      markUploadFinished: () => ({}),
    }),
  );
  return { transport, got };
}

/** Real gcc + objcopy builds: a usual GNU ld layout, code placed far from its file offset, and a file without a build id. */
describe(DebuginfoUploader.name, () => {
  let dir: string;
  let usual: string;
  let moved: string;
  let noId: string;

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'firn-uploader-'));
    const src = join(dir, 'p.c');
    await writeFile(src, '__attribute__((noinline)) int spin(int x) { return x * 3; }\nint main(int c, char **v) { (void)v; return spin(c); }\n');
    usual = join(dir, 'usual');
    moved = join(dir, 'moved');
    noId = join(dir, 'noid');
    execFileSync('gcc', ['-g', '-O2', '-Wl,--build-id', '-o', usual, src]);
    // Code at a vaddr unrelated to its file offset, as lld lays out Rust ≥ 1.90 binaries.
    execFileSync('gcc', ['-g', '-O2', '-Wl,--build-id', '-Wl,--section-start=.text=0x800000', '-o', moved, src]);
    execFileSync('gcc', ['-g', '-O2', '-Wl,--build-id=none', '-o', noId, src]);
  }, 60_000);

  afterAll(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  const uploadOf = async (path: string) => {
    const { transport, got } = server();
    const up = new DebuginfoUploader({ transport, logger: log, timeoutMs: 30_000 });
    const buildId = await buildIdOrHash(path);
    up.offer([{ buildId, path }]);
    await up.stop(); // lets the upload under way finish
    expect(up.uploaded).toBe(1);
    return { buildId, sent: got.get(buildId) };
  };

  it('uploads only the debug sections when they can map the file offsets', async () => {
    const { sent } = await uploadOf(usual);
    const elf = await readElfFile(usual);
    expect(sent?.type).toBe(BuildIDType.BUILD_ID_TYPE_GNU);
    expect(sent!.data.length).toBeLessThan((await stat(usual)).size);
    expect(mappableWithoutBinary(elf.loads, parseElf(sent!.data).loads)).toBe(true);
  });

  it('uploads the whole file when a debug file alone would map its offsets wrong', async () => {
    const elf = await readElfFile(moved);
    expect(
      mappableWithoutBinary(
        elf.loads,
        elf.loads.map((l) => ({ ...l, filesz: 0n })),
      ),
    ).toBe(false);
    const { sent } = await uploadOf(moved);
    expect(sent?.data.length).toBe((await stat(moved)).size);
  });

  it('uploads a file without a build id under its content hash', async () => {
    const { buildId, sent } = await uploadOf(noId);
    expect(buildId).toMatch(/^h-[0-9a-f]+$/);
    expect(sent?.type).toBe(BuildIDType.BUILD_ID_TYPE_HASH);
    expect(sent!.data.length).toBeGreaterThan(0);
  });
});
