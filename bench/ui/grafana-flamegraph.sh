#!/usr/bin/env bash
# Measures Grafana's @grafana/flamegraph (the component Grafana ships) the way bench/ui/ui.bench.ts
# measures Firn's canvas icicle: bundle size of a minimal Vite app that renders it, and the time
# from render() to a painted frame for 8 192 and 65 536 nodes in Debian's Chromium, plus a zoom
# click. Installs into a temporary directory (never into this repository's package.json: it
# does not install there, see apps/web/README.md), prints JSON. Needs the npm registry.
#   bash bench/ui/grafana-flamegraph.sh [version]       (default 11.3.1; 13.x needs a GitHub tarball)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
VERSION="${1:-11.3.1}"
DIR="$(mktemp -d /tmp/firn-gfg-XXXXXX)"
trap 'kill "${HTTP_PID:-0}" 2>/dev/null || true; rm -rf "$DIR"' EXIT
cd "$DIR"
echo '{ "name": "gfg-measure", "private": true, "type": "module" }' > package.json
# --legacy-peer-deps: 11.3.1 pins react 18.2.0 and (13.x) peers @grafana/assistant → React ≥ 19.
npm install --legacy-peer-deps --no-audit --no-fund --loglevel=error \
  "@grafana/flamegraph@$VERSION" "@grafana/data@$VERSION" react@18.3.1 react-dom@18.3.1 \
  react-router-dom@5.3.4 react-router@5.3.4 vite@8.4.0 @vitejs/plugin-react@6.3.0 >&2
mkdir -p src
cat > index.html <<'EOF'
<!doctype html><html><head><meta charset="utf-8"><title>gfg</title></head><body><div id="root" style="width:1900px"></div><script type="module" src="/src/main.tsx"></script></body></html>
EOF
cat > vite.config.mjs <<'EOF'
import react from '@vitejs/plugin-react';
import { defineConfig } from 'vite';
// @grafana/flamegraph 11.3.1 depends on react 18.2.0 exactly: without dedupe the bundle has two Reacts.
export default defineConfig({ plugins: [react()], resolve: { dedupe: ['react', 'react-dom'] }, build: { outDir: 'dist', chunkSizeWarningLimit: 10000 } });
EOF
cat > src/main.tsx <<'EOF'
import { createRoot } from 'react-dom/client';
import { createDataFrame, createTheme } from '@grafana/data';
import { FlameGraph } from '@grafana/flamegraph';
// A synthetic tree of n nodes in nested-set (depth-first) order: level, value, self, label.
function tree(n: number) {
  const level: number[] = [], value: number[] = [], self: number[] = [], label: string[] = [];
  let seed = 1;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  function node(depth: number, v: number): void {
    if (level.length >= n) return;
    const i = level.length;
    level.push(depth); value.push(v); self.push(0); label.push(`pkg${depth % 40}.fn_${i}`);
    let rest = v;
    const kids = depth > 40 ? 0 : 1 + Math.floor(rnd() * 4);
    for (let k = 0; k < kids && rest > 1 && level.length < n; k++) {
      const c = Math.max(1, Math.floor(rest * (0.3 + rnd() * 0.6)));
      node(depth + 1, c);
      rest -= c;
    }
    self[i] = rest;
  }
  while (level.length < n) node(0, 1e9);
  return createDataFrame({ name: 'response', meta: { preferredVisualisationType: 'flamegraph' }, fields: [
    { name: 'level', values: level }, { name: 'value', values: value, config: { unit: 'ns' } }, { name: 'self', values: self, config: { unit: 'ns' } }, { name: 'label', values: label } ] });
}
const n = Number(new URLSearchParams(location.search).get('n') ?? 65536);
const data = tree(n);
const theme = createTheme();
const t0 = performance.now();
createRoot(document.getElementById('root')!).render(<FlameGraph data={data} getTheme={() => theme} />);
// setTimeout(0) runs after React's render task; two frames later the graph is on screen.
setTimeout(() => requestAnimationFrame(() => requestAnimationFrame(() => { (window as any).__renderMs = performance.now() - t0; })), 0);
EOF
npx vite build --logLevel warn >&2
node -e '
const fs=require("fs"),z=require("zlib"),p=require("path");const d="dist/assets";
const files=fs.readdirSync(d).map(f=>{const b=fs.readFileSync(p.join(d,f));return {f,bytes:b.length,gzip:z.gzipSync(b,{level:9}).length}}).sort((a,b)=>b.bytes-a.bytes);
const tot=files.reduce((a,x)=>({bytes:a.bytes+x.bytes,gzip:a.gzip+x.gzip}),{bytes:0,gzip:0});
console.log(JSON.stringify({bundle:{total:tot,largest:files.slice(0,3)}}));'
PORT=$(node -e 'const s=require("net").createServer().listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})')
python3 -m http.server "$PORT" --bind 127.0.0.1 -d dist >/dev/null 2>&1 &
HTTP_PID=$!
sleep 1
cat > "$DIR/measure.ts" <<EOF
import { launchBrowser } from '@firn/testing';
async function main() {
  const b = await launchBrowser({ viewport: { width: 1920, height: 1080 } });
  const out: Record<string, number[]> = {};
  for (const n of [8192, 65536]) {
    for (let i = 0; i < 3; i++) {
      const page = await b.context.newPage();
      await page.goto('http://127.0.0.1:$PORT/?n=' + n);
      await page.waitForFunction(() => (globalThis as any).__renderMs !== undefined, undefined, { timeout: 300_000 });
      (out['render_' + n] ??= []).push(await page.evaluate(() => (globalThis as any).__renderMs));
      const box = await page.locator('canvas').first().boundingBox();
      if (box) {
        const t0 = await page.evaluate(() => performance.now());
        await page.mouse.click(box.x + box.width * 0.3, box.y + 3 * 22 + 10);
        (out['zoom_' + n] ??= []).push(await page.evaluate(async (t) => { const w = globalThis as any; await new Promise<void>((r) => w.requestAnimationFrame(() => w.requestAnimationFrame(() => r()))); return performance.now() - t; }, t0));
      }
      await page.close();
    }
  }
  console.log(JSON.stringify(out));
  await b.close();
}
main().catch((e) => { console.error(e); process.exit(1); });
EOF
cp "$DIR/measure.ts" "$ROOT/tmp/gfg-measure-run.ts" 2>/dev/null || { mkdir -p "$ROOT/tmp"; cp "$DIR/measure.ts" "$ROOT/tmp/gfg-measure-run.ts"; }
node "$ROOT/scripts/run-ts.cjs" "$ROOT/tmp/gfg-measure-run.ts"
