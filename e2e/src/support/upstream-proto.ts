import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { createFileRegistry, fromBinary, type FileRegistry } from '@bufbuild/protobuf';
import { FileDescriptorSetSchema } from '@bufbuild/protobuf/wkt';
import * as protoLoader from '@grpc/proto-loader';
import { ROOT } from './apps';

/** Upstream API definitions kept for compatibility tests (see e2e/upstream-proto/README.md). */
export const UPSTREAM_PROTO = resolve(ROOT, 'e2e/upstream-proto');

export interface UpstreamProtos {
  /** A temp copy of the files (documentation annotations removed), for loaders that read files. */
  dir: string;
  /** The files compiled by buf into descriptors: services for `@connectrpc/connect` clients. */
  registry: FileRegistry;
  /** The same files loaded by `@grpc/proto-loader`, for `@grpc/grpc-js` clients. */
  grpc: protoLoader.PackageDefinition;
  cleanup(): Promise<void>;
}

/**
 * Loads upstream .proto files from `e2e/upstream-proto/<repo>` with two independent toolchains,
 * neither of which is Firn's generated code. Pyroscope's files carry gnostic OpenAPI annotations
 * (documentation options that do not change the wire format and whose definitions are not
 * vendored); they are removed from the temp copy, nothing else is changed.
 */
export async function loadUpstream(repo: string, files: string[]): Promise<UpstreamProtos> {
  const dir = await mkdtemp(join(tmpdir(), 'firn-upstream-proto-'));
  const all = await withImports(join(UPSTREAM_PROTO, repo), files);
  for (const f of all) {
    const text = await readFile(join(UPSTREAM_PROTO, repo, f), 'utf8');
    const stripped = text
      .replace(/^import "gnostic\/.*";$/gm, '')
      .replace(/^\s*option \(gnostic[^;]*;$/gm, '')
      .replace(/\s*\[\(gnostic[^\]]*\]/g, '');
    await mkdir(dirname(join(dir, f)), { recursive: true });
    await writeFile(join(dir, f), stripped);
  }
  const out = join(dir, 'descriptors.binpb');
  await promisify(execFile)(join(ROOT, 'node_modules/.bin/buf'), ['build', dir, '-o', out], { cwd: dir });
  const registry = createFileRegistry(fromBinary(FileDescriptorSetSchema, await readFile(out)));
  const grpc = protoLoader.loadSync(files, { includeDirs: [dir], keepCase: true, longs: String, defaults: false });
  return { dir, registry, grpc, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** The files plus everything they import from the same repository directory. */
async function withImports(root: string, files: string[]): Promise<string[]> {
  const seen = new Set<string>();
  const visit = async (f: string): Promise<void> => {
    if (seen.has(f)) return;
    seen.add(f);
    const text = await readFile(join(root, f), 'utf8');
    for (const m of text.matchAll(/^import "([^"]+)";$/gm)) {
      if (m[1].startsWith('gnostic/') || m[1].startsWith('google/protobuf/')) continue;
      await visit(m[1]);
    }
  };
  for (const f of files) await visit(f);
  return [...seen];
}
