import { readFileSync, writeFileSync } from 'node:fs';
import { connect as http2Connect, constants as h2 } from 'node:http2';
import { createGzip } from 'node:zlib';

/** One gRPC length-prefixed message frame: flags (1 = compressed), u32 length, bytes. */
export function grpcFrame(flags: number, data: Uint8Array): Buffer {
  const head = Buffer.alloc(5);
  head[0] = flags;
  head.writeUInt32BE(data.byteLength, 1);
  return Buffer.concat([head, data]);
}

/**
 * A raw gRPC call over h2c, so headers (e.g. grpc-encoding) and frames are exactly what the test
 * says: the status and message from the response headers or trailers.
 */
export function rawGrpc(baseUrl: string, path: string, body: Buffer, headers: Record<string, string> = {}): Promise<{ status: number; message: string }> {
  return new Promise((resolve, reject) => {
    const session = http2Connect(baseUrl);
    session.on('error', reject);
    const req = session.request({
      [h2.HTTP2_HEADER_METHOD]: 'POST',
      [h2.HTTP2_HEADER_PATH]: path,
      'content-type': 'application/grpc+proto',
      te: 'trailers',
      ...headers,
    });
    let status = -1;
    let message = '';
    const take = (h: Record<string, unknown>): void => {
      if (h['grpc-status'] !== undefined) status = Number(h['grpc-status']);
      if (typeof h['grpc-message'] === 'string') message = decodeURIComponent(h['grpc-message']);
    };
    req.on('response', take);
    req.on('trailers', take);
    req.on('data', () => undefined);
    req.on('end', () => {
      session.close();
      resolve({ status, message });
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** gzip of `bytes` zeros, built in pieces so the test itself stays small (1 GiB → ~1 MB). */
export async function gzipBomb(bytes: number): Promise<Buffer> {
  const gz = createGzip({ level: 9 });
  const out: Buffer[] = [];
  gz.on('data', (c: Buffer) => out.push(c));
  const done = new Promise<void>((resolve, reject) => {
    gz.on('end', resolve);
    gz.on('error', reject);
  });
  const chunk = Buffer.alloc(1 << 20);
  for (let left = bytes; left > 0; left -= chunk.length) {
    if (!gz.write(left >= chunk.length ? chunk : chunk.subarray(0, left))) await new Promise((r) => gz.once('drain', r));
  }
  gz.end();
  await done;
  return Buffer.concat(out);
}

/** Resident and peak resident memory of a process, bytes (Linux /proc). */
export function processMemory(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key: string) => Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN) * 1024;
  return { rss: kb('VmRSS'), hwm: kb('VmHWM') };
}

/**
 * Resets a process's peak resident memory (VmHWM) to its current RSS, so the next
 * `processMemory(pid).hwm` is the peak of what happens from now on (Linux: clear_refs 5; needs
 * the same user or root).
 */
export function resetPeakMemory(pid: number): void {
  writeFileSync(`/proc/${pid}/clear_refs`, '5');
}
