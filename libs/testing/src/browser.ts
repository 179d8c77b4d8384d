import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import { requireBinary } from './require-binary';

/** Debian's Chromium (scripts/install-system-deps.sh installs it); a browser is never downloaded. */
export const CHROMIUM_PATH = '/usr/bin/chromium';

/**
 * Headless, no sandbox (tests run as root), no GPU, and nothing that phones home or updates
 * itself, so a run is the same offline as online.
 */
export const CHROMIUM_FLAGS: readonly string[] = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface BrowserSession {
  readonly context: BrowserContext;
  readonly userDataDir: string;
  close(): Promise<void>;
}

/**
 * Launches Debian's Chromium through playwright-core with a fresh user-data-dir (removed on
 * close), so no state leaks between tests. Pages opened in the context share cookies and
 * localStorage but, like real tabs, not sessionStorage.
 */
export async function launchBrowser(opts: { viewport?: { width: number; height: number }; acceptDownloads?: boolean } = {}): Promise<BrowserSession> {
  const executablePath = requireBinary(CHROMIUM_PATH);
  const userDataDir = await mkdtemp(join(tmpdir(), 'firn-chromium-'));
  let context: BrowserContext;
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath,
      headless: true,
      args: [...CHROMIUM_FLAGS],
      viewport: opts.viewport ?? { width: 1280, height: 800 },
      acceptDownloads: opts.acceptDownloads ?? true,
      timeout: 60_000,
    });
  } catch (err) {
    await rm(userDataDir, { recursive: true, force: true });
    throw err;
  }
  return {
    context,
    userDataDir,
    async close() {
      await context.close().catch(() => undefined);
      await rm(userDataDir, { recursive: true, force: true });
    },
  };
}
