import { FirnError } from '@firn/errors';

/** S3's own limit on key length, in UTF-8 bytes. */
export const MAX_KEY_BYTES = 1024;
/** S3 never returns more than this many keys per ListObjectsV2 page. */
export const MAX_LIST_LIMIT = 1000;

// Control characters (NUL above all) and backslashes mean different things on different backends
// (C strings, Windows paths, log lines), so keys may not contain them anywhere.
const FORBIDDEN_CHAR = /[\u0000-\u001f\u007f\\]/;

function quote(key: string): string {
  const shown = key.length > 120 ? `${key.slice(0, 120)}…` : key;
  return JSON.stringify(shown);
}

function checkCommon(what: 'key' | 'prefix', value: unknown): string {
  if (typeof value !== 'string') {
    throw FirnError.invalidArgument(`object ${what} must be a string, got ${typeof value}`);
  }
  if (Buffer.byteLength(value, 'utf8') > MAX_KEY_BYTES) {
    throw FirnError.invalidArgument(`object ${what} ${quote(value)} is longer than ${MAX_KEY_BYTES} bytes`);
  }
  if (value.startsWith('/')) {
    throw FirnError.invalidArgument(`object ${what} ${quote(value)} must not start with '/'`);
  }
  if (FORBIDDEN_CHAR.test(value)) {
    throw FirnError.invalidArgument(`object ${what} ${quote(value)} must not contain control characters (e.g. NUL) or backslashes`);
  }
  return value;
}

/**
 * Rejects keys that would mean different things on different backends. Every segment must be a
 * plain name: no empty segments ('a//b', trailing '/') and no '.' or '..', because the local
 * adapter maps segments to directories and a key must never escape or alias another.
 */
export function validateObjectKey(key: unknown): string {
  const k = checkCommon('key', key);
  if (k.length === 0) throw FirnError.invalidArgument('object key must not be empty');
  for (const segment of k.split('/')) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw FirnError.invalidArgument(`object key ${quote(k)} has an empty, '.' or '..' segment; keys are '/'-separated names`);
    }
  }
  return k;
}

/**
 * A listing prefix is any leading part of a key: it may be empty or end with '/'. Its last
 * segment is only a name filter ('..' there matches a key like '..x'), so only the complete
 * segments before it are held to the key rules.
 */
export function validateObjectPrefix(prefix: unknown): string {
  const p = checkCommon('prefix', prefix);
  for (const segment of p.split('/').slice(0, -1)) {
    if (segment === '' || segment === '.' || segment === '..') {
      throw FirnError.invalidArgument(`object prefix ${quote(p)} has an empty, '.' or '..' segment`);
    }
  }
  return p;
}

/** Validates a byte range request; returns the exclusive end offset. */
export function validateRange(key: string, offset: number, length: number): number {
  if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
    throw FirnError.invalidArgument(`range of object ${quote(key)} must have non-negative integer offset and length, got offset=${offset} length=${length}`);
  }
  return offset + length;
}

export function validateListLimit(limit: number | undefined): number {
  if (limit === undefined) return MAX_LIST_LIMIT;
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw FirnError.invalidArgument(`list limit must be an integer in 1..${MAX_LIST_LIMIT}, got ${limit}`);
  }
  return limit;
}

/** Byte-wise UTF-8 order, which is what S3 lists in (UTF-16 string comparison differs above U+FFFF). */
export function compareKeys(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));
}
