import { FirnError } from '@firn/errors';

// GNU build ids are 20 bytes (SHA-1) or 16 (MD5/UUID); Go ids and agent content hashes are
// longer; the agent's content hashes of id-less files carry an 'h-' prefix. Hex only: they become object-key and cache-key segments, so nothing else may pass.
const BUILD_ID_RE = /^(h-)?[0-9a-f]{2,128}$/;

/** Lowercases and validates a build id; invalid_argument names the bad value. */
export function normalizeBuildId(raw: string): string {
  const id = raw.trim().toLowerCase();
  if (!BUILD_ID_RE.test(id)) {
    throw FirnError.invalidArgument(`build id ${JSON.stringify(raw.slice(0, 140))} must be 2-128 hex digits (optionally h-prefixed)`);
  }
  return id;
}

export function isBuildId(raw: string): boolean {
  return BUILD_ID_RE.test(raw);
}
