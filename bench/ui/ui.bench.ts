// Browser benchmark of the web UI on fleet-1h-sized data (docs/benchmarks.md, "Web UI"): an
// all-in-one loaded with a fleet-1h slice through WriteArrow (100 agents, 8 pods each, 20 000
// stacks, symbolized frames), then Debian's Chromium (playwright-core) measures, with a warm
// querier: page load to the first flame graph drawn, the flame graph's draw time at the node
// cap (65 536 nodes), and the frame time of zooms and hovers. Not a test: it asserts nothing
// about speed; it checks the data is complete and the graph has the nodes it should.
//
//   node scripts/run-ts.cjs bench/ui/ui.bench.ts [--windows 12] [--concurrency 2] [--runs 5] [--zooms 20]
//     [--dir DIR (keep the loaded data and reuse it)] [--json FILE] [--write-docs]
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { gzipSync } from 'node:zlib';
import type { CDPSession, Page } from 'playwright-core';
import { freePort, launchBrowser, spawnServer, type ServerProcess } from '@firn/testing';
import { FLEET_PROFILE_TYPE, resolveFleetOptions } from '../fleet/fleet-1h';
import { percentile } from '../ingest/load';
import { machineNotes } from '../ingest/report';
import { loadFleet } from '../query/load-fleet';

const ROOT = resolve(__dirname, '..', '..');
const DOCS = resolve(ROOT, 'docs/benchmarks.md');
const START = '<!-- bench:ui:start -->';
const END = '<!-- bench:ui:end -->';

const { values: args } = parseArgs({
  options: {
    windows: { type: 'string', default: '12' },
    concurrency: { type: 'string', default: '2' },
    runs: { type: 'string', default: '5' },
    zooms: { type: 'string', default: '20' },
    dir: { type: 'string' },
    json: { type: 'string' },
    'write-docs': { type: 'boolean', default: false },
  },
  strict: true,
});
const WINDOWS = Number(args.windows);
const RUNS = Number(args.runs);
const ZOOMS = Number(args.zooms);

const log = (m: string): void => console.log(`[ui-bench] ${m}`);
const ms = (v: number): string => (v >= 1000 ? `${(v / 1000).toFixed(2)} s` : `${Math.round(v)} ms`);
const stats = (xs: number[]): { p50: number; p95: number; max: number } => ({ p50: percentile(xs, 0.5), p95: percentile(xs, 0.95), max: Math.max(...xs) });

async function startAllInOne(dataDir: string): Promise<{ base: string; proc: ServerProcess }> {
  const port = await freePort();
  const base = `http://127.0.0.1:${port}`;
  const proc = await spawnServer({
    name: 'ui-bench-all-in-one',
    command: process.execPath,
    args: [join(ROOT, 'scripts/run-ts.cjs'), join(ROOT, 'apps/all-in-one/src/main.ts'), '--data-dir', dataDir],
    env: { FIRN_HOST: '127.0.0.1', FIRN_PORT: String(port), FIRN_LOG_LEVEL: 'warn' },
    ready: async () => (await fetch(`${base}/readyz`)).status === 200,
    readyTimeoutMs: 120_000,
    stopTimeoutMs: 30_000,
  });
  return { base, proc };
}

async function mergedTotal(base: string, token: string, query: string, startMs: number, endMs: number): Promise<number> {
  const res = await fetch(`${base}/parca.query.v1alpha1.QueryService/Query`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({
      mode: 'MODE_MERGE',
      merge: { query, start: new Date(startMs).toISOString(), end: new Date(endMs).toISOString() },
      reportType: 'REPORT_TYPE_TOP',
    }),
  });
  if (!res.ok) throw new Error(`query: HTTP ${res.status} ${await res.text()}`);
  return Number(((await res.json()) as { total?: string }).total ?? 0);
}

/** In the page: milliseconds from the navigation to the end of the first flame graph draw (and its node count). */
interface FirstDraw {
  drawEndMs: number;
  decodedMs: number;
  nodes: number;
  drawMs: number;
  fcpMs: number;
  /** The flame graph request (Parca Query), from the browser's resource timing. */
  queryStartMs: number;
  queryEndMs: number;
  queryBytes: number;
}

async function firstDraw(page: Page, timeoutMs: number): Promise<FirstDraw> {
  await page.waitForFunction(() => performance.getEntriesByName('firn:flame-draw').length > 0, undefined, { timeout: timeoutMs, polling: 50 });
  return page.evaluate(() => {
    const d = performance.getEntriesByName('firn:flame-draw')[0] as unknown as { startTime: number; duration: number; detail: unknown };
    const dec = performance.getEntriesByName('firn:flame-decoded')[0] as { startTime: number } | undefined;
    const fcp = performance.getEntriesByName('first-contentful-paint')[0];
    const q = performance.getEntriesByType('resource').find((e) => e.name.endsWith('/parca.query.v1alpha1.QueryService/Query')) as unknown as
      { startTime: number; responseEnd: number; encodedBodySize: number } | undefined;
    return {
      drawEndMs: d.startTime + d.duration,
      drawMs: d.duration,
      decodedMs: dec?.startTime ?? NaN,
      nodes: (d.detail as { nodes: number }).nodes,
      fcpMs: fcp?.startTime ?? NaN,
      queryStartMs: q?.startTime ?? NaN,
      queryEndMs: q?.responseEnd ?? NaN,
      queryBytes: q?.encodedBodySize ?? NaN,
    };
  });
}

/** CPU seconds of the page's main thread so far (CDP Performance.getMetrics ThreadTime). */
async function threadTime(cdp: CDPSession): Promise<number> {
  const { metrics } = (await cdp.send('Performance.getMetrics')) as { metrics: Array<{ name: string; value: number }> };
  return (metrics.find((m) => m.name === 'ThreadTime')?.value ?? NaN) * 1000;
}

/**
 * Presses a key on the focused graph (Chromium's real input pipeline) and measures until the
 * frame after the redraw is presented: React update + canvas draw + paint. Keys always hit a
 * frame (↓ selects the largest child, Enter zooms into it, Esc resets), unlike blind clicks.
 */
async function pressAndWait(page: Page, key: string): Promise<{ frameMs: number; drawMs: number }> {
  const before = await page.evaluate(() => {
    const w = globalThis as unknown as { __t0: number };
    w.__t0 = performance.now();
    return performance.getEntriesByName('firn:flame-draw').length;
  });
  await page.keyboard.press(key);
  return page.evaluate(async (n) => {
    const w = globalThis as unknown as { __t0: number; requestAnimationFrame: (cb: () => void) => number };
    const frame = (): Promise<void> => new Promise((r) => w.requestAnimationFrame(() => r()));
    const deadline = performance.now() + 30_000;
    while (performance.getEntriesByName('firn:flame-draw').length <= n && performance.now() < deadline) await frame();
    await frame();
    const all = performance.getEntriesByName('firn:flame-draw');
    return { frameMs: performance.now() - w.__t0, drawMs: all[all.length - 1].duration };
  }, before);
}

function bundleSizes(): Array<{ file: string; bytes: number; gzip: number }> {
  const dir = join(ROOT, 'dist/web/assets');
  return readdirSync(dir)
    .map((f) => {
      const b = readFileSync(join(dir, f));
      return { file: f, bytes: b.length, gzip: gzipSync(b, { level: 9 }).length };
    })
    .sort((a, b) => b.bytes - a.bytes);
}

async function main(): Promise<void> {
  const machine = machineNotes();
  const build = await import('node:child_process').then((cp) => cp.spawnSync(process.execPath, [join(ROOT, 'scripts/build-web.cjs')], { stdio: 'inherit' }));
  if (build.status !== 0) throw new Error('web UI build failed');
  const keep = args.dir !== undefined;
  const dataDir = args.dir ? resolve(args.dir) : mkdtempSync(join(tmpdir(), 'firn-ui-bench-'));
  mkdirSync(dataDir, { recursive: true });
  const markerFile = join(dataDir, 'ui-bench.json');
  const marker = existsSync(markerFile) ? (JSON.parse(readFileSync(markerFile, 'utf8')) as { windows: number; startMs: number; samples: number }) : undefined;
  const reuse = marker?.windows === WINDOWS;
  const startMs = reuse ? marker.startMs : Math.floor((Date.now() - WINDOWS * 10_000 - 60_000) / 10_000) * 10_000;
  const fleet = { windows: WINDOWS, startMs, symbolize: true };
  const resolved = resolveFleetOptions(fleet);

  const { base, proc } = await startAllInOne(dataDir);
  const token = readFileSync(join(dataDir, 'default-token'), 'utf8').trim();
  const endMs = startMs + WINDOWS * 10_000 + 10_000;
  const query = `${FLEET_PROFILE_TYPE}{}`;
  let samples = marker?.samples ?? 0;
  let pushSec = NaN;
  try {
    if (!reuse) {
      log(`loading fleet-1h slice: ${resolved.agents} agents × ${WINDOWS} windows (symbolized) into ${dataDir}`);
      const loaded = await loadFleet({
        gatewayBase: base,
        token,
        fleet,
        concurrency: Number(args.concurrency),
        deadlineMs: Date.now() + 3_600_000,
        onProgress: (s, t) => log(`pushed ${s}/${t}`),
      });
      samples = loaded.samples;
      pushSec = loaded.pushWallSec;
      const until = Date.now() + 900_000;
      while ((await mergedTotal(base, token, query, startMs, endMs)) !== samples) {
        if (Date.now() > until) throw new Error('the all-in-one did not store every pushed sample within 15 min');
        await new Promise((r) => setTimeout(r, 2000));
      }
      writeFileSync(markerFile, JSON.stringify({ windows: WINDOWS, startMs, samples }));
    }
    const stored = await mergedTotal(base, token, query, startMs, endMs); // also warms the querier
    if (stored !== samples) throw new Error(`stored total ${stored} ≠ pushed ${samples}`);
    log(`${samples} samples queryable; querier warm`);

    const browser = await launchBrowser({ viewport: { width: 1920, height: 1080 } });
    const url = `${base}/explore?type=${encodeURIComponent(FLEET_PROFILE_TYPE)}&from=${startMs}&to=${endMs}&tab=graph`;
    const loads: Array<Awaited<ReturnType<typeof firstDraw>>> = [];
    let nodes = 0;
    const zoomFrames: number[] = [];
    const zoomDraws: number[] = [];
    const resetFrames: number[] = [];
    const selectFrames: number[] = [];
    const loadCpu: number[] = [];
    const zoomCpu: number[] = [];
    const hoverFrames: number[] = [];
    let signInFcp = NaN;
    try {
      const page = await browser.context.newPage();
      await page.goto(url);
      await page.locator('#token').waitFor();
      signInFcp = await page.evaluate(() => performance.getEntriesByName('first-contentful-paint')[0]?.startTime ?? NaN);
      await page.locator('#token').fill(token);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await firstDraw(page, 120_000); // first load in this tab: assets into the HTTP cache
      const cdp = await browser.context.newCDPSession(page);
      await cdp.send('Performance.enable');
      for (let i = 0; i < RUNS; i++) {
        const c0 = await threadTime(cdp);
        await page.reload(); // the session survives a reload (sessionStorage)
        const r = await firstDraw(page, 120_000);
        const c1 = await threadTime(cdp);
        loadCpu.push(c1 >= c0 ? c1 - c0 : c1); // the counter restarts when the reload gets a new renderer
        loads.push(r);
        nodes = r.nodes;
        log(
          `load ${i + 1}: first flame graph drawn at ${ms(r.drawEndMs)} (FCP ${ms(r.fcpMs)}, query ${ms(r.queryStartMs)} → ${ms(r.queryEndMs)}, ${(r.queryBytes / 1e6).toFixed(2)} MB, decoded at ${ms(r.decodedMs)}, draw ${ms(r.drawMs)}, ${r.nodes} nodes)`,
        );
      }
      const graph = page.getByRole('img', { name: /Flame graph/ });
      const box = await graph.boundingBox();
      if (!box) throw new Error('no flame graph on the page');
      await graph.focus();
      // Walk down the biggest path (↓ selects, a redraw each), zoom into the frame reached
      // (Enter), reset (Esc): what a user clicking around the hot path does.
      for (let i = 0; i < ZOOMS; i++) {
        for (let k = 0; k <= i % 6; k++) selectFrames.push((await pressAndWait(page, 'ArrowDown')).frameMs);
        const c0 = await threadTime(cdp);
        const z = await pressAndWait(page, 'Enter');
        zoomCpu.push((await threadTime(cdp)) - c0);
        zoomFrames.push(z.frameMs);
        zoomDraws.push(z.drawMs);
        resetFrames.push((await pressAndWait(page, 'Escape')).frameMs);
      }
      for (let i = 0; i < ZOOMS; i++) {
        const t = await page.evaluate(() => performance.now());
        await page.mouse.move(box.x + ((i * 0.61) % 1) * box.width, box.y + (3 + (i % 8)) * 18 + 9);
        const dt = await page.evaluate(async (t0) => {
          const w = globalThis as unknown as { requestAnimationFrame: (cb: () => void) => number };
          await new Promise<void>((r) => w.requestAnimationFrame(() => r()));
          return performance.now() - t0;
        }, t);
        hoverFrames.push(dt);
      }
    } finally {
      await browser.close();
    }
    const bundle = bundleSizes();
    const result = {
      machine,
      load: loadavg(),
      dataDir: keep ? dataDir : '(temp)',
      windows: WINDOWS,
      agents: resolved.agents,
      samples,
      pushSec,
      nodes,
      signInFcp,
      loads,
      zoomFrames,
      zoomDraws,
      resetFrames,
      selectFrames,
      hoverFrames,
      loadCpu,
      zoomCpu,
      bundle,
    };
    if (args.json) writeFileSync(args.json, JSON.stringify(result, null, 2));
    const section = report(result);
    console.log(section);
    if (args['write-docs']) {
      const doc = readFileSync(DOCS, 'utf8');
      const i = doc.indexOf(START);
      const j = doc.indexOf(END);
      writeFileSync(DOCS, i >= 0 && j > i ? doc.slice(0, i) + section + doc.slice(j + END.length) : `${doc.trimEnd()}\n\n${section}\n`);
      log(`wrote ${DOCS}`);
    }
  } finally {
    await proc.stop();
    if (!keep) rmSync(dataDir, { recursive: true, force: true });
  }
}

function report(r: {
  machine: ReturnType<typeof machineNotes>;
  load: number[];
  windows: number;
  agents: number;
  samples: number;
  nodes: number;
  signInFcp: number;
  loads: FirstDraw[];
  zoomFrames: number[];
  zoomDraws: number[];
  resetFrames: number[];
  selectFrames: number[];
  hoverFrames: number[];
  loadCpu: number[];
  zoomCpu: number[];
  bundle: Array<{ file: string; bytes: number; gzip: number }>;
}): string {
  const row = (name: string, xs: number[], aim = ''): string => {
    const s = stats(xs);
    return `| ${name} | ${xs.length} | ${ms(s.p50)} | ${ms(s.p95)} | ${ms(s.max)} | ${aim} |`;
  };
  const first = r.loads.map((l) => l.drawEndMs);
  const kib = (b: number): string => `${(b / 1024).toFixed(1)} KiB`;
  const initial = r.bundle.filter((b) => /^index-/.test(b.file));
  return [
    START,
    '## Web UI (browser benchmark, fleet-1h-sized)',
    '',
    'An all-in-one loaded with a fleet-1h slice through WriteArrow (symbolized frames: function names,',
    "files, lines), the querier warmed by one query, then Debian's Chromium (headless, playwright-core)",
    'at 1920×1080: the explore view of the whole slice, unfiltered (`' + FLEET_PROFILE_TYPE + '{}`), whose',
    `merged flame graph is capped at the tenant's node limit: **${r.nodes.toLocaleString('en-US')} nodes** drawn. "First flame graph" is`,
    'navigation start → the end of the first canvas draw (`firn:flame-draw`), on a reload of a signed-in tab',
    '(assets cached, querier warm). Zoom / reset / select = a key press on the focused graph (Chromium input)',
    '→ the frame after the redraw is presented (React update + draw + paint), walking down the hot path.',
    'Not a test: nothing here is asserted.',
    '',
    '```sh',
    `node scripts/run-ts.cjs bench/ui/ui.bench.ts --windows ${r.windows} --concurrency 2 --runs ${r.loads.length} --zooms ${r.zoomFrames.length} --write-docs   # --dir DIR keeps the data for reruns`,
    '```',
    '',
    `Machine: ${r.machine.nproc} CPUs (${r.machine.cpuModel}), ${r.machine.memGiB} GiB RAM, Node ${r.machine.node}, Chromium from Debian, commit ${r.machine.commit}, ${r.machine.date}; load average ${r.load.map((x) => x.toFixed(2)).join(' ')} at the end (the machine is shared with other jobs).`,
    '',
    `Flame graph response: ${(stats(r.loads.map((l) => l.queryBytes)).p50 / 1e6).toFixed(2)} MB (Connect binary, Arrow record inside).`,
    '',
    `Data: ${r.agents} agents × ${r.windows} windows of 10 s, ${r.samples.toLocaleString('en-US')} samples (same generator and seed as fleet-1h; the flame graph's size is set by the 20 000 stacks, not by the hours).`,
    '',
    '| measure | n | p50 | p95 | max | aim |',
    '|---|---|---|---|---|---|',
    row('first flame graph drawn (reload, warm querier)', first, `< 1 s: ${stats(first).p50 < 1000 ? '✅' : '❌'}`),
    row(
      'first contentful paint (reload)',
      r.loads.map((l) => l.fcpMs),
    ),
    row(
      'flame graph query (request sent → response end; server time)',
      r.loads.map((l) => l.queryEndMs - l.queryStartMs),
    ),
    row(
      'UI share: response end → graph drawn (Arrow decode, layout, React, draw)',
      r.loads.map((l) => l.drawEndMs - l.queryEndMs),
      `< 1 s: ${stats(r.loads.map((l) => l.drawEndMs - l.queryEndMs)).p50 < 1000 ? '✅' : '❌'}`,
    ),
    row(
      'query + Arrow decode done (reload)',
      r.loads.map((l) => l.decodedMs),
    ),
    row('page main-thread CPU for the whole load (CDP ThreadTime: JS parse, React, decode, draw)', r.loadCpu),
    row(
      `canvas draw, whole graph (${r.nodes} nodes)`,
      r.loads.map((l) => l.drawMs),
      '< 16 ms (one frame)',
    ),
    row('zoom (Enter on a frame) → next frame presented', r.zoomFrames, `no visible lag (< 100 ms): ${stats(r.zoomFrames).p95 < 100 ? '✅' : '❌'}`),
    row('zoom: canvas draw', r.zoomDraws),
    row('zoom: page main-thread CPU (CDP ThreadTime; steady under load)', r.zoomCpu),
    row('reset zoom (Esc) → next frame', r.resetFrames),
    row('select a frame (↓) → next frame', r.selectFrames),
    row('hover: move → next frame (tooltip)', r.hoverFrames),
    '',
    `Sign-in page, fresh tab: first contentful paint ${ms(r.signInFcp)}.`,
    '',
    `Bundle (dist/web/assets; the first load is ${initial.map((b) => `${b.file.replace(/-[\w-]+\./, '.')} ${kib(b.gzip)} gzip`).join(' + ')}; the rest loads on demand):`,
    '',
    '| chunk | bytes | gzip |',
    '|---|---|---|',
    ...r.bundle.map((b) => `| ${b.file.replace(/-[\w-]{8}\./, '.')} | ${kib(b.bytes)} | ${kib(b.gzip)} |`),
    END,
  ].join('\n');
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});
