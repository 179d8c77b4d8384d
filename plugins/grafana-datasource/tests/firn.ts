import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
// Nx forbids importing e2e projects; these tests are end-to-end tests too and share its way of
// running apps (startApp) rather than copying it.
// eslint-disable-next-line @nx/enforce-module-boundaries
import { startApp, type RunningApp } from '@firn/e2e-support';

export const CPU = 'process_cpu:cpu:nanoseconds:cpu:nanoseconds';
/** Pyroscope's `sampleRate=100`: every folded sample stands for 10 ms of CPU. */
export const NS_PER_SAMPLE = 10_000_000;

/** One Pyroscope `/ingest` upload: folded stacks (sample counts) for one series at one time. */
export interface Upload {
  labels: Record<string, string>;
  atMs: number;
  folded: Record<string, number>;
}

/**
 * The data every plugin test reads, in two windows ten minutes apart so a time-shifted diff has a
 * baseline: the `checkout` namespace gets hotter (hot_fn 30 → 60 samples) and grows a new_fn,
 * cold_fn stays; `search` only runs in the first window.
 */
export function seedUploads(t1: number): Upload[] {
  const t2 = t1 + 10 * 60_000;
  return [
    { labels: { namespace: 'checkout', pod: 'checkout-1' }, atMs: t1, folded: { 'main;work;hot_fn': 30, 'main;work;cold_fn': 10 } },
    { labels: { namespace: 'search', pod: 'search-1' }, atMs: t1, folded: { 'main;work;hot_fn': 5, 'main;idle': 5 } },
    { labels: { namespace: 'checkout', pod: 'checkout-2' }, atMs: t2, folded: { 'main;work;hot_fn': 60, 'main;work;cold_fn': 10, 'main;work;new_fn': 5 } },
  ];
}

export interface FirnUnderTest {
  app: RunningApp;
  /** The all-in-one's own first token (tenant "default", read:profiles among its scopes). */
  token: string;
  /** Start of the first window, minute-aligned, half an hour ago. */
  t1: number;
  stop(): Promise<void>;
}

async function ingest(base: string, token: string, u: Upload): Promise<void> {
  const labels = Object.entries(u.labels)
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  const q = new URLSearchParams({
    name: `shop.cpu{${labels}}`,
    from: String(Math.floor(u.atMs / 1000)),
    until: String(Math.floor(u.atMs / 1000) + 10),
    format: 'folded',
    sampleRate: '100',
  });
  const body =
    Object.entries(u.folded)
      .map(([stack, n]) => `${stack} ${n}`)
      .join('\n') + '\n';
  const res = await fetch(`${base}/ingest?${q}`, { method: 'POST', headers: { authorization: `Bearer ${token}` }, body });
  if (res.status !== 200) throw new Error(`ingest failed: ${res.status} ${await res.text()}`);
}

/** Total samples × period Firn holds for `shop` in the range, through its public Pyroscope API. */
async function storedTotal(base: string, token: string, startMs: number, endMs: number): Promise<number> {
  const res = await fetch(`${base}/querier.v1.QuerierService/SelectMergeStacktraces`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ profileTypeID: CPU, labelSelector: '{service_name="shop"}', start: String(startMs), end: String(endMs) }),
  });
  if (res.status !== 200) return -1;
  const body = (await res.json()) as { flamegraph?: { total?: string } };
  return Number(body.flamegraph?.total ?? 0);
}

/**
 * A real Firn (the all-in-one, as `npm start` runs it) with {@link seedUploads} ingested through
 * Pyroscope's public `/ingest` and visible to queries.
 */
export async function startFirn(): Promise<FirnUnderTest> {
  const dataDir = await mkdtemp(join(tmpdir(), 'firn-grafana-plugin-'));
  const app = await startApp('all-in-one', { args: ['--data-dir', dataDir, '--ingester-flush-max-age-ms', '200'], readyTimeoutMs: 60_000 });
  try {
    // The all-in-one creates tenant "default" on first start and keeps its token here (README).
    const token = (await readFile(join(dataDir, 'default-token'), 'utf8')).trim();
    const t1 = Math.floor((Date.now() - 30 * 60_000) / 60_000) * 60_000;
    const uploads = seedUploads(t1);
    for (const u of uploads) await ingest(app.base, token, u);
    const want = uploads.reduce((n, u) => n + Object.values(u.folded).reduce((a, b) => a + b, 0), 0) * NS_PER_SAMPLE;
    const deadline = Date.now() + 60_000;
    while ((await storedTotal(app.base, token, t1 - 60_000, t1 + 20 * 60_000)) !== want) {
      if (Date.now() > deadline) throw new Error(`seeded profiles did not become queryable within 60 s (want total ${want})`);
      await new Promise((r) => setTimeout(r, 200));
    }
    return {
      app,
      token,
      t1,
      async stop() {
        await app.stop();
        await rm(dataDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await app.stop();
    await rm(dataDir, { recursive: true, force: true });
    throw err;
  }
}
