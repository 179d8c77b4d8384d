import { mkdirSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DIST, ensureBuilt } from '../built-plugin';
import { CPU, startFirn, type FirnUnderTest } from '../firn';
import { GrafanaProxy } from '../grafana-proxy';
import { buildHarness } from './build-harness';
import { launchBrowser, type BrowserSession } from '@firn/testing';

const MIN = 60_000;
const REPO = resolve(__dirname, '..', '..', '..', '..');
/** Committed screenshots are refreshed with FIRN_UPDATE_SCREENSHOTS=1; otherwise they go to tmp/. */
const SHOTS = process.env.FIRN_UPDATE_SCREENSHOTS === '1' ? join(REPO, 'docs', 'grafana') : join(REPO, 'tmp', 'grafana-screenshots');

/**
 * The built plugin's editors in Debian's Chromium, loaded the way Grafana loads plugins (see
 * harness/harness.tsx) and talking to a real Firn through the Grafana-like data source proxy.
 */
describe('Firn plugin editors in Chromium', () => {
  let firn: FirnUnderTest;
  let grafana: GrafanaProxy;
  let browser: BrowserSession;
  let harnessDir: string;

  beforeAll(async () => {
    mkdirSync(SHOTS, { recursive: true });
    harnessDir = await mkdtemp(join(tmpdir(), 'firn-grafana-harness-'));
    await Promise.all([ensureBuilt(), buildHarness(harnessDir)]);
    firn = await startFirn();
    grafana = new GrafanaProxy(
      DIST,
      { '/harness/': harnessDir, '/public/img/': join(REPO, 'node_modules', '@grafana', 'ui', 'dist', 'public', 'img') },
      join(harnessDir, 'index.html'),
    );
    await grafana.start();
    grafana.save('firn', { jsonData: { url: firn.app.base, defaultProfileType: CPU }, secureJsonData: { apiToken: firn.token } });
    browser = await launchBrowser({ viewport: { width: 1240, height: 760 } });
  }, 600_000);

  afterAll(async () => {
    await browser?.close();
    await grafana?.stop();
    await firn?.stop();
    if (harnessDir) await rm(harnessDir, { recursive: true, force: true });
  });

  async function open(query: string): Promise<Page> {
    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (e) => errors.push(e.message));
    await page.goto(`${grafana.base}/?${query}`);
    await page.getByTestId('firn-query-editor').or(page.getByTestId('firn-config-editor')).waitFor({ timeout: 60_000 });
    expect(errors).toEqual([]);
    return page;
  }

  const options = (page: Page) => page.locator('[aria-label="Select option"]');
  const result = (page: Page) => page.getByTestId('result');
  const runs = (page: Page) => page.getByTestId('run-count');

  async function choose(page: Page, inputId: string, option: string, offered: string[], screenshot?: string): Promise<void> {
    await page.locator(`#${inputId}`).click();
    await expect.poll(() => options(page).allTextContents(), { timeout: 30_000 }).toEqual(offered);
    if (screenshot) await page.screenshot({ path: join(SHOTS, screenshot) });
    await options(page)
      .filter({ hasText: new RegExp(`^${option}$`) })
      .click();
  }

  it('does offer the seeded label values and re-run the query on every change', async () => {
    const page = await open(`from=${firn.t1 - MIN}&to=${firn.t1 + 20 * MIN}`);
    // Like a panel, the query runs once with the default query (the data source's default profile type).
    await expect
      .poll(() => result(page).textContent(), { timeout: 30_000 })
      .toBe('flamegraph total=1250000000 nodes=7 labels=total,main,idle,work,cold_fn,hot_fn,new_fn\nseries cpu points=500000000,750000000');
    expect(await runs(page).textContent()).toBe('1');

    await page.locator('#firn-query-labels-add').click();
    await choose(page, 'firn-query-labels-name-0', 'namespace', ['namespace', 'pod', 'pyroscope_spy', 'service_name']);
    await choose(page, 'firn-query-labels-value-0', 'checkout', ['checkout', 'search'], 'query-editor-autocomplete.png');
    await expect
      .poll(() => result(page).textContent(), { timeout: 30_000 })
      .toBe('flamegraph total=1150000000 nodes=6 labels=total,main,work,cold_fn,hot_fn,new_fn\nseries cpu points=400000000,750000000');
    expect(await runs(page).textContent()).toBe('2');
    expect(await page.locator('#firn-query-labels-selector').inputValue()).toBe('{namespace="checkout"}');
    await expect.poll(() => page.getByTestId('flamegraph').locator('canvas').count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, 'query-editor-flamegraph.png'), fullPage: true });

    // Series grouped by a label; the group-by picker offers the label names too.
    await page.locator('#option-series-firn-query-type').click();
    await expect.poll(() => runs(page).textContent()).toBe('3');
    await choose(page, 'firn-query-group-by', 'pod', ['namespace', 'pod', 'pyroscope_spy', 'service_name']);
    await expect.poll(() => result(page).textContent(), { timeout: 30_000 }).toBe('series checkout-1 points=400000000\nseries checkout-2 points=750000000');
    expect(await runs(page).textContent()).toBe('4');

    // A typed selector re-runs when the field loses focus.
    await page.locator('#firn-query-labels-selector').fill('{namespace="search"}');
    await page.locator('#firn-query-labels-selector').blur();
    await expect.poll(() => result(page).textContent(), { timeout: 30_000 }).toBe('series search-1 points=100000000');
    expect(await runs(page).textContent()).toBe('5');
    await page.screenshot({ path: join(SHOTS, 'query-editor-series.png'), fullPage: true });
    await page.close();
  }, 180_000);

  it('does render a diff against the same selection an earlier window back', async () => {
    // Comparison: the second window (checkout-2); baseline: 10 minutes earlier (checkout-1, search-1).
    const page = await open(`from=${firn.t1 + 9 * MIN}&to=${firn.t1 + 11 * MIN}`);
    await expect.poll(() => runs(page).textContent()).toBe('1');
    await page.locator('#option-flamegraph-firn-query-type').click();
    await expect.poll(() => runs(page).textContent()).toBe('2');
    await page.locator('label[for="firn-query-diff"]').last().click();
    await expect.poll(() => runs(page).textContent()).toBe('3');
    await page.locator('#firn-query-baseline-offset').fill('10m');
    await page.locator('#firn-query-baseline-offset').blur();
    await expect
      .poll(() => result(page).textContent(), { timeout: 30_000 })
      .toBe('flamegraph total=500000000 right=750000000 nodes=7 labels=total,main,idle,work,cold_fn,hot_fn,new_fn');
    await expect.poll(() => page.getByTestId('flamegraph').locator('canvas').count()).toBeGreaterThan(0);
    await page.screenshot({ path: join(SHOTS, 'query-editor-diff.png'), fullPage: true });
    await page.close();
  }, 120_000);

  it('does save the token server-side and Save & test names the tenant or says the token is bad', async () => {
    const page = await open(`show=config&from=${firn.t1 - MIN}&to=${firn.t1 + 20 * MIN}`);
    const proxied: Array<{ url: string; auth?: string; body: string }> = [];
    page.on('request', (r) => {
      if (r.url().includes('/api/datasources/proxy/')) proxied.push({ url: r.url(), auth: r.headers().authorization, body: r.postData() ?? '' });
    });
    const badToken = `${firn.token.slice(0, -4)}AAAA`;
    await page.locator('#firn-config-url').fill(firn.app.base);
    await page.locator('#firn-config-token').fill(badToken);
    await page.locator('#save-and-test').click();
    const outcome = page.getByTestId('test-result');
    await outcome.waitFor({ timeout: 30_000 });
    expect(await outcome.getAttribute('data-status')).toBe('error');
    expect(await outcome.textContent()).toMatch(/^Firn rejected the API token\. Paste a valid token/);
    await page.screenshot({ path: join(SHOTS, 'config-editor-bad-token.png'), fullPage: true });

    // Saved: the secret left the page and is shown as configured.
    expect(JSON.parse((await page.getByTestId('saved-options').textContent()) ?? '{}')).toEqual({
      jsonData: { url: firn.app.base },
      secureJsonFields: { apiToken: true },
      secureJsonData: {},
    });
    await page.getByRole('button', { name: 'Reset' }).click();
    await page.locator('#firn-config-token').fill(firn.token);
    await page.locator('#save-and-test').click();
    await expect.poll(() => outcome.getAttribute('data-status'), { timeout: 30_000 }).toBe('success');
    expect(await outcome.textContent()).toBe('Connected to Firn as tenant "default": 1 profile type in the last hour.');
    await page.screenshot({ path: join(SHOTS, 'config-editor.png'), fullPage: true });

    // The browser's calls to Firn carried no token: Grafana's proxy added it.
    // whoami refused; then whoami and ProfileTypes.
    expect(proxied.map((r) => new URL(r.url).pathname.replace(/^.*\/firn\//, ''))).toEqual([
      'api/v1/whoami',
      'api/v1/whoami',
      'querier.v1.QuerierService/ProfileTypes',
    ]);
    for (const r of proxied) {
      expect(r.auth).toBeUndefined();
      expect(r.url + r.body).not.toContain(firn.token);
      expect(r.url + r.body).not.toContain(badToken);
    }
    await page.close();
  }, 120_000);
});
