import { spawnSync } from 'node:child_process';
import { mkdir } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Page } from 'playwright-core';
import { ROOT } from './apps';

/** Builds dist/web when it is older than its sources (fast when current). */
export function ensureWebBuilt(): void {
  const r = spawnSync(process.execPath, [resolve(ROOT, 'scripts/build-web.cjs'), '--quiet'], { cwd: ROOT, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`web UI build failed:\n${r.stdout}\n${r.stderr}`);
}

/** Folded stacks pushed through Pyroscope's /ingest (sampleRate 100 ⇒ each sample is 10 ms of CPU). */
export async function ingestFolded(base: string, token: string, name: string, folded: string, fromSec: number, untilSec: number): Promise<void> {
  const url = `${base}/ingest?name=${encodeURIComponent(name)}&sampleRate=100&from=${fromSec}&until=${untilSec}&format=folded`;
  const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body: folded });
  if (!res.ok) throw new Error(`ingest ${name}: HTTP ${res.status} ${await res.text()}`);
}

/** Total of a merged selection through Parca's Connect JSON API, for waiting until data is queryable. */
export async function mergedTotal(base: string, token: string, query: string, startMs: number, endMs: number): Promise<number> {
  const res = await fetch(`${base}/parca.query.v1alpha1.QueryService/Query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      mode: 'MODE_MERGE',
      merge: { query, start: new Date(startMs).toISOString(), end: new Date(endMs).toISOString() },
      reportType: 'REPORT_TYPE_TOP',
    }),
  });
  if (!res.ok) return -1;
  const body = (await res.json()) as { total?: string };
  return Number(body.total ?? 0);
}

export async function signIn(page: Page, token: string): Promise<void> {
  await page.locator('#token').fill(token);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByTestId('tenant').waitFor({ timeout: 30_000 });
}

export interface TableRow {
  name: string;
  self: number;
  total: number;
  totalDiff: number;
  text: string;
}

/** The top table as data (the DOM's data attributes and text, not pixels). */
export async function tableRows(page: Page, scope = 'body'): Promise<TableRow[]> {
  return page
    .locator(scope)
    .locator('table.top tbody tr')
    .evaluateAll((rows) =>
      rows.map((r) => {
        const el = r as unknown as { dataset: Record<string, string | undefined>; textContent: string | null };
        return {
          name: el.dataset.name ?? '',
          self: Number(el.dataset.self),
          total: Number(el.dataset.total),
          totalDiff: Number(el.dataset.totalDiff),
          text: el.textContent ?? '',
        };
      }),
    );
}

/** Where screenshots go: tmp/ui-screenshots, or docs/ui when FIRN_UI_SCREENSHOTS=docs/ui (to refresh the committed ones). */
export async function screenshotDir(): Promise<string> {
  const dir = resolve(ROOT, process.env.FIRN_UI_SCREENSHOTS ?? 'tmp/ui-screenshots');
  await mkdir(dir, { recursive: true });
  return dir;
}

export const VIEWPORTS = [
  { width: 1280, height: 800 },
  { width: 1920, height: 1080 },
] as const;

/** One screenshot per viewport, named `<name>-<width>x<height>.png`. */
export async function shoot(page: Page, dir: string, name: string, fullPage = false): Promise<void> {
  const original = page.viewportSize();
  for (const v of VIEWPORTS) {
    await page.setViewportSize(v);
    await page.waitForTimeout(400); // ResizeObserver → redraw on the next frame
    await page.screenshot({ path: resolve(dir, `${name}-${v.width}x${v.height}.png`), fullPage });
  }
  if (original) await page.setViewportSize(original);
}
