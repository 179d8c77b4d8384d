import { accessSync, constants } from 'node:fs';
import { delimiter, isAbsolute, join } from 'node:path';

/**
 * Returns the absolute path of `name` on PATH, or throws naming the install script. Tests call
 * this first so a missing server fails the run loudly instead of skipping.
 */
export function requireBinary(name: string): string {
  const found = findBinary(name);
  if (found === undefined) {
    throw new Error(`required binary '${name}' not found on PATH; run scripts/install-system-deps.sh (Debian/Ubuntu) to install the test servers`);
  }
  return found;
}

export function findBinary(name: string): string | undefined {
  const candidates = isAbsolute(name)
    ? [name]
    : (process.env.PATH ?? '')
        .split(delimiter)
        .filter(Boolean)
        .map((dir) => join(dir, name));
  for (const path of candidates) {
    try {
      accessSync(path, constants.X_OK);
      return path;
    } catch {
      // not here; keep looking
    }
  }
  return undefined;
}
