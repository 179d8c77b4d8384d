import { chromium } from 'playwright-core';

/**
 * Debian's Chromium (`scripts/install-system-deps.sh` installs it) driven by playwright-core;
 * no browser is downloaded. Playwright gives every launch a fresh temporary user-data-dir and
 * removes it on close (it refuses a --user-data-dir flag; that needs launchPersistentContext).
 * Same signature and flags as the web UI's shared launcher, so the two can be swapped.
 */
export async function launchChromium(): Promise<import('playwright-core').Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    headless: true,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}
