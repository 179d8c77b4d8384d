import { spawnSync } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Profile } from 'pprof-format';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findBinary, launchBrowser, type BrowserSession } from '@firn/testing';
import { startApp, type RunningApp } from './support/apps';
import { ensureWebBuilt, ingestFolded, mergedTotal, screenshotDir, shoot, signIn, tableRows } from './support/web-ui';

const TYPE = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds:delta';
const MS = 10_000_000; // one folded sample at sampleRate=100, in ns
// Version 1.2 burns 75 % in hot_fn; 1.3 moved work to cold_fn and added new_fn.
const V12 = 'main;serve;hot_fn 750\nmain;serve;cold_fn 250\n';
const V13 = 'main;serve;hot_fn 500\nmain;serve;cold_fn 500\nmain;serve;new_fn 100\n';
const SEL12 = '{service_name="shop",version="1.2"}';
const SEL13 = '{service_name="shop",version="1.3"}';

/**
 * The web UI in Debian's Chromium against a real all-in-one: seeded profiles with a known split
 * and a known diff, checked through the DOM (table data, details text, URL), not pixels.
 */
describe('web UI', () => {
  let dataDir: string;
  let app: RunningApp;
  let token: string;
  let browser: BrowserSession;
  let shots: string;
  let from: number;
  let to: number;

  const explore = (extra = ''): string => `${app.base}/explore?type=${encodeURIComponent(TYPE)}&q=${encodeURIComponent(SEL12)}&from=${from}&to=${to}${extra}`;
  const compare = (extra = ''): string =>
    `${app.base}/compare?type=${encodeURIComponent(TYPE)}&aq=${encodeURIComponent(SEL12)}&bq=${encodeURIComponent(SEL13)}&afrom=${from}&ato=${to}&bfrom=${from}&bto=${to}${extra}`;

  async function openSignedIn(url: string): Promise<Page> {
    const page = await browser.context.newPage();
    await page.goto(url);
    await signIn(page, token);
    return page;
  }

  beforeAll(async () => {
    ensureWebBuilt();
    dataDir = await mkdtemp(join(tmpdir(), 'firn-e2e-ui-'));
    app = await startApp('all-in-one', { args: ['--data-dir', dataDir], env: { FIRN_START_AGENT: '0' }, readyTimeoutMs: 90_000 });
    token = (await readFile(join(dataDir, 'default-token'), 'utf8')).trim();
    const nowSec = Math.floor(Date.now() / 1000);
    await ingestFolded(app.base, token, 'shop.cpu{version=1.2}', V12, nowSec - 600, nowSec - 590);
    await ingestFolded(app.base, token, 'shop.cpu{version=1.3}', V13, nowSec - 300, nowSec - 290);
    from = (nowSec - 900) * 1000;
    to = (nowSec + 60) * 1000;
    const until = Date.now() + 60_000;
    while (
      Date.now() < until &&
      ((await mergedTotal(app.base, token, `${TYPE}${SEL12}`, from, to)) !== 1000 * MS ||
        (await mergedTotal(app.base, token, `${TYPE}${SEL13}`, from, to)) !== 1100 * MS)
    ) {
      await new Promise((r) => setTimeout(r, 500));
    }
    expect(await mergedTotal(app.base, token, `${TYPE}${SEL12}`, from, to)).toBe(1000 * MS);
    browser = await launchBrowser({ viewport: { width: 1280, height: 800 } });
    shots = await screenshotDir();
  }, 240_000);

  afterAll(async () => {
    await browser?.close();
    await app?.stop();
    if (dataDir) await rm(dataDir, { recursive: true, force: true });
  });

  it('does refuse a bad token with a clear message', async () => {
    const page = await browser.context.newPage();
    await page.goto(`${app.base}/`);
    await page.locator('#token').fill(`${token.slice(0, -3)}xyz`);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await expect.poll(() => page.getByRole('alert').textContent(), { timeout: 20_000 }).toMatch(/This token was rejected/);
    await shoot(page, shots, 'sign-in-bad-token');
    await page.close();
  }, 60_000);

  it('does show the seeded split in the explore view', async () => {
    const page = await openSignedIn(explore());
    await page.locator('table.top tbody tr').first().waitFor({ timeout: 30_000 });
    const rows = await tableRows(page);
    const hot = rows.find((r) => r.name === 'hot_fn');
    const cold = rows.find((r) => r.name === 'cold_fn');
    expect(hot).toMatchObject({ self: 750 * MS, total: 750 * MS });
    expect(cold).toMatchObject({ self: 250 * MS, total: 250 * MS });
    expect(rows[0].name).toBe('hot_fn'); // sorted by self
    expect(hot?.text).toContain('75.0%');
    expect(cold?.text).toContain('25.0%');
    expect(await page.getByTestId('total').textContent()).toBe('10 s');
    expect(await page.getByRole('img', { name: /Flame graph of process_cpu/ }).getAttribute('aria-label')).toMatch(/4 frames/);
    await page.locator('.series canvas').first().waitFor();
    await shoot(page, shots, 'explore');
    await page.close();
  }, 90_000);

  it('does zoom, search and focus from the table', async () => {
    const page = await openSignedIn(explore());
    await page.locator('table.top tbody tr').first().waitFor({ timeout: 30_000 });
    // table click → focus in the graph (URL and details line)
    await page.locator('tr[data-name="cold_fn"]').click();
    await expect.poll(() => new URL(page.url()).searchParams.get('focus')).toBe(JSON.stringify(['main', 'serve', 'cold_fn']));
    expect(await page.getByTestId('details').textContent()).toMatch(/cold_fn.*Total2\.50 s · 25\.0%/);
    // keyboard: Escape on the graph resets the zoom, arrows select, Enter zooms
    const graph = page.getByRole('img', { name: /Flame graph/ });
    await graph.focus();
    await page.keyboard.press('Escape');
    await expect.poll(() => new URL(page.url()).searchParams.get('focus')).toBeNull();
    await page.keyboard.press('ArrowDown');
    await page.keyboard.press('Enter');
    await expect.poll(() => new URL(page.url()).searchParams.get('focus')).toBe(JSON.stringify(['main']));
    // a click on a frame zooms into it: row 3 (depth 3) at the far left is hot_fn
    const box = await graph.boundingBox();
    if (!box) throw new Error('no graph box');
    await page.mouse.click(box.x + 20, box.y + 3 * 18 + 9);
    await expect.poll(() => new URL(page.url()).searchParams.get('focus')).toBe(JSON.stringify(['main', 'serve', 'hot_fn']));
    expect(await page.getByTestId('details').textContent()).toMatch(/hot_fn.*7\.50 s · 75\.0%/);
    await page.getByRole('button', { name: 'Reset zoom' }).click();
    await expect.poll(() => new URL(page.url()).searchParams.get('focus')).toBeNull();
    // search (regex) highlights matching frames and sums them once
    await page.getByRole('searchbox', { name: /Search functions/ }).fill('^(hot|cold)_fn$');
    await expect.poll(() => page.getByTestId('search-summary').textContent()).toBe('2 frames match · 100.0% of total');
    await page.getByRole('searchbox', { name: /Search functions/ }).fill('hot_');
    await expect.poll(() => page.getByTestId('search-summary').textContent()).toBe('1 frames match · 75.0% of total');
    await expect.poll(() => new URL(page.url()).searchParams.get('search')).toBe('hot_');
    // the table sorts by any column from the keyboard
    await page.getByRole('button', { name: /^Function/ }).click();
    expect((await tableRows(page)).map((r) => r.name)).toEqual(['cold_fn', 'hot_fn', 'main', 'serve']);
    // sandwich of serve: callers main, callees hot_fn and cold_fn
    await page.locator('tr[data-name="serve"] button', { hasText: 'sandwich' }).click();
    await page.getByTestId('sandwich-callers').waitFor();
    expect(await page.getByRole('img', { name: /Callers of serve/ }).getAttribute('aria-label')).toMatch(/1 frames/);
    expect(await page.getByRole('img', { name: /Callees of serve/ }).getAttribute('aria-label')).toMatch(/2 frames/);
    await shoot(page, shots, 'sandwich');
    await page.close();
  }, 120_000);

  it('does show the known diff in the compare view', async () => {
    const page = await openSignedIn(compare('&abs=1'));
    await page.getByTestId('diff').locator('table.top tbody tr').first().waitFor({ timeout: 30_000 });
    const rows = await tableRows(page, '[data-testid=diff]');
    const by = Object.fromEntries(rows.map((r) => [r.name, r.totalDiff]));
    expect(by).toMatchObject({ hot_fn: -250 * MS, cold_fn: 250 * MS, new_fn: 100 * MS, main: 100 * MS });
    // sorted by change: the biggest growth first, the biggest drop last
    expect(rows[0].name).toBe('cold_fn');
    expect(rows[rows.length - 1].name).toBe('hot_fn');
    expect(rows.find((r) => r.name === 'hot_fn')?.text).toContain('−33.3%');
    await shoot(page, shots, 'compare-diff');
    // relative (Parca's default): A is scaled to B's total (×1.1) first
    await page.getByRole('checkbox', { name: 'Absolute values' }).uncheck();
    await expect.poll(async () => (await tableRows(page, '[data-testid=diff]')).find((r) => r.name === 'hot_fn')?.totalDiff).toBe(-325 * MS);
    // side by side: two graphs with their own totals
    await page.getByRole('button', { name: 'Side by side' }).click();
    await page.getByTestId('side-b').getByTestId('total').waitFor({ timeout: 30_000 });
    expect(await page.getByTestId('side-a').getByTestId('total').textContent()).toBe('10 s');
    expect(await page.getByTestId('side-b').getByTestId('total').textContent()).toBe('11 s');
    await shoot(page, shots, 'compare-side-by-side');
    await page.close();
  }, 120_000);

  it('does reopen the same state from a share link', async () => {
    const page = await openSignedIn(explore('&search=hot_&tab=both'));
    await page.locator('tr[data-name="cold_fn"]').click();
    await expect.poll(() => new URL(page.url()).searchParams.get('focus')).not.toBeNull();
    await page.getByRole('button', { name: 'Copy link' }).click();
    const link = await page.getByTestId('share-link').inputValue();
    const url = new URL(link);
    expect(url.searchParams.get('from')).toBe(String(from)); // absolute already; a relative range is frozen
    // A new tab has no session (sessionStorage is per tab): sign in, and the same view comes back.
    const other = await openSignedIn(link);
    await other.locator('table.top tbody tr').first().waitFor({ timeout: 30_000 });
    expect(new URL(other.url()).searchParams.get('focus')).toBe(JSON.stringify(['main', 'serve', 'cold_fn']));
    expect(await other.getByRole('searchbox', { name: /Search functions/ }).inputValue()).toBe('hot_');
    expect(await other.getByTestId('search-summary').textContent()).toBe('1 frames match · 75.0% of total');
    expect(await other.getByTestId('details').textContent()).toMatch(/cold_fn/);
    await other.close();
    await page.close();
  }, 120_000);

  it('does download the shown profile as pprof with the seeded totals', async () => {
    const page = await openSignedIn(explore());
    await page.locator('table.top tbody tr').first().waitFor({ timeout: 30_000 });
    const [download] = await Promise.all([page.waitForEvent('download', { timeout: 30_000 }), page.getByRole('button', { name: 'Download pprof' }).click()]);
    expect(download.suggestedFilename()).toMatch(/^firn-process_cpu-\d+-\d+\.pb\.gz$/);
    const file = join(dataDir, 'download.pb.gz');
    await download.saveAs(file);
    const p = Profile.decode(gunzipSync(await readFile(file)));
    const str = (i: number | bigint): string => String(p.stringTable.strings[Number(i)]);
    const byLeaf = new Map<string, number>();
    for (const s of p.sample) {
      const leaf = p.location.find((l) => l.id === s.locationId[0]);
      const fn = p.function.find((f) => f.id === leaf?.line[0]?.functionId);
      byLeaf.set(str(fn?.name ?? 0), (byLeaf.get(str(fn?.name ?? 0)) ?? 0) + Number(s.value[0]));
    }
    expect(Object.fromEntries(byLeaf)).toEqual({ hot_fn: 750 * MS, cold_fn: 250 * MS });
    // and Go's own pprof reads it
    const go = findBinary('go');
    if (go) {
      const r = spawnSync(go, ['tool', 'pprof', '-top', '-symbolize=none', file], {
        encoding: 'utf8',
        env: { ...process.env, HOME: dataDir, GOFLAGS: '-mod=mod', GOTOOLCHAIN: 'local' },
        timeout: 120_000,
      });
      expect(r.stdout).toMatch(/7\.50s\s+75\.00%.*hot_fn/);
    }
    await page.close();
  }, 180_000);

  it('does show network errors in the page and sends a dead token back to sign-in', async () => {
    const page = await openSignedIn(explore());
    await page.locator('table.top tbody tr').first().waitFor({ timeout: 30_000 });
    await page.route('**/parca.query.v1alpha1.QueryService/**', (route) => route.abort('connectionrefused'));
    await page.getByRole('button', { name: 'Run' }).click();
    await expect.poll(() => page.locator('.error-box').first().textContent(), { timeout: 30_000 }).toMatch(/Network error.*cannot reach the Firn server/);
    await shoot(page, shots, 'network-error');
    await page.unroute('**/parca.query.v1alpha1.QueryService/**');
    // The token stops working (revoked or expired): the next query lands on sign-in with the reason.
    await page.evaluate(() => {
      // (typechecked without the DOM lib: sessionStorage through globalThis)
      const store = (globalThis as unknown as { sessionStorage: { getItem(k: string): string | null; setItem(k: string, v: string): void } }).sessionStorage;
      const s = JSON.parse(store.getItem('firn.session') ?? '{}') as { token: string };
      store.setItem('firn.session', JSON.stringify({ ...s, token: `${s.token}0` }));
    });
    await page.reload();
    await expect.poll(() => page.getByRole('status').first().textContent(), { timeout: 30_000 }).toMatch(/no longer accepts this token/);
    await page.close();
  }, 120_000);

  it('does switch to the dark theme', async () => {
    const page = await openSignedIn(explore());
    await page.locator('table.top tbody tr').first().waitFor({ timeout: 30_000 });
    await page.getByRole('button', { name: 'Switch to the dark theme' }).click();
    expect(await page.locator('html').getAttribute('data-theme')).toBe('dark');
    await page.locator('tr[data-name="hot_fn"]').click();
    await shoot(page, shots, 'explore-dark');
    await page.getByRole('button', { name: 'Switch to the light theme' }).click();
    await page.close();
  }, 90_000);
});
