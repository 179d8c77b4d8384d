import type { IncomingMessage } from 'node:http';
import { ErrorCode, FirnError } from '@firn/errors';

/** Reads a request body, refusing (413) beyond `max` bytes without buffering the excess. */
export async function readBody(req: IncomingMessage, max: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (declared > max) throw tooLarge(max);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const b = chunk as Buffer;
    size += b.length;
    if (size > max) {
      req.destroy();
      throw tooLarge(max);
    }
    chunks.push(b);
  }
  return Buffer.concat(chunks, size);
}

function tooLarge(max: number): FirnError {
  return new FirnError(ErrorCode.ResourceExhausted, `request body larger than ${max} bytes`, { details: { limit: 'max_request_bytes' }, httpStatus: 413 });
}
