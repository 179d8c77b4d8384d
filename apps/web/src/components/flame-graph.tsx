import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { useWidth } from '../hooks';
import { colourKey, diffColour, frameColour } from '../model/colors';
import { nodeAt, type Flame } from '../model/flame';
import { formatValue, percent, signedPercent } from '../model/format';

const ROW = 18;
const FONT = '12px ui-sans-serif, system-ui, -apple-system, "Segoe UI", sans-serif';

export interface FlameGraphProps {
  flame: Flame;
  /** The zoomed-in node (0 = the whole graph). */
  focus: number;
  onFocus: (node: number) => void;
  /** Keyboard/table selection, shown with an outline and in the details line. */
  selected: number;
  onSelect: (node: number) => void;
  /** Search matches (1 per matching node); others are drawn faded. */
  highlight?: Uint8Array;
  /** Callers graphs grow upwards. */
  inverted?: boolean;
  /** Label for assistive technology ("Flame graph of …"). */
  title: string;
  dark: boolean;
  testId?: string;
}

interface Hover {
  node: number;
  x: number;
  y: number;
}

/**
 * A canvas icicle graph: root on top, callees below, width = total. Drawing visits only the
 * nodes inside the focused range (binary search per depth) and skips those under half a
 * pixel, so a 65 536-node graph redraws in a few milliseconds. Each draw is recorded as a
 * `firn:flame-draw` performance measure (the browser benchmark reads them).
 */
export function FlameGraph({ flame: f, focus, onFocus, selected, onSelect, highlight, inverted = false, title, dark, testId }: FlameGraphProps) {
  const [box, width] = useWidth<HTMLDivElement>();
  const canvas = useRef<HTMLCanvasElement>(null);
  const [hover, setHover] = useState<Hover>();
  const height = (f.maxDepth + 1) * ROW;
  const fo = focus >= 0 && focus < f.n ? focus : 0;

  const colours = useMemo(() => {
    const byKey = new Map<string, string>();
    const out: string[] = new Array(f.n);
    for (let i = 0; i < f.n; i++) {
      if (f.diff) {
        const base = f.total[i] - f.diff[i];
        out[i] = diffColour(base > 0 ? f.diff[i] / base : f.diff[i] > 0 ? 1 : 0, dark);
        continue;
      }
      const key = colourKey(f.binaries[f.binary[i]], f.names[f.name[i]]);
      let c = byKey.get(key);
      if (!c) byKey.set(key, (c = frameColour(key, dark)));
      out[i] = c;
    }
    return out;
  }, [f, dark]);

  const draw = useCallback(() => {
    const cv = canvas.current;
    if (!cv || width <= 0) return;
    const t0 = performance.now();
    const dpr = window.devicePixelRatio || 1;
    if (cv.width !== Math.round(width * dpr) || cv.height !== Math.round(height * dpr)) {
      cv.width = Math.round(width * dpr);
      cv.height = Math.round(height * dpr);
      cv.style.width = `${width}px`;
      cv.style.height = `${height}px`;
    }
    const g = cv.getContext('2d');
    if (!g) return;
    g.setTransform(dpr, 0, 0, dpr, 0, 0);
    g.clearRect(0, 0, width, height);
    g.font = FONT;
    g.textBaseline = 'middle';
    const charW = g.measureText('abcdefghijklmnopqrstuvwxyz').width / 26;
    const x0 = f.offset[fo];
    const span = f.total[fo] || 1;
    const scale = width / span;
    const fd = f.depth[fo];
    const textColour = dark ? '#f0f2f5' : '#1b1f24';
    const yOf = (d: number): number => (inverted ? (f.maxDepth - d) * ROW : d * ROW);
    // Collect first, paint per colour: one path per fill style instead of a state change per
    // frame, and at most one sub-pixel frame per pixel column and depth.
    const solid = new Map<string, number[]>();
    const faded = new Map<string, number[]>();
    const labels: number[] = []; // node, x, y, w
    const add = (i: number, x: number, w: number, d: number, fade: boolean): void => {
      const y = yOf(d);
      const bucket = fade ? faded : solid;
      let list = bucket.get(colours[i]);
      if (!list) bucket.set(colours[i], (list = []));
      list.push(x, y, Math.max(w - (w > 2 ? 1 : 0), 0.5));
      if (w > charW * 3 + 6) labels.push(i, x, y, w);
    };
    // Ancestors of the focused node span the full width (dimmed: they are context).
    for (let a = f.parent[fo]; a >= 0 && fo > 0; a = f.parent[a]) {
      add(a, 0, width, f.depth[a], true);
      if (a === 0) break;
    }
    for (let d = fd; d <= f.maxDepth; d++) {
      let lo = f.depthStart[d];
      let hi = f.depthStart[d + 1] - 1;
      // first node ending after x0
      while (lo <= hi) {
        const mid = (lo + hi) >> 1;
        if (f.offset[mid] + f.total[mid] <= x0) lo = mid + 1;
        else hi = mid - 1;
      }
      const end = f.depthStart[d + 1];
      let drawn = false;
      let lastPx = -1;
      for (let i = lo; i < end; i++) {
        const off = f.offset[i];
        if (off >= x0 + span) break;
        const w = f.total[i] * scale;
        if (w < 0.5) continue;
        const x = (off - x0) * scale;
        if (w < 1) {
          const px = Math.floor(x);
          if (px === lastPx) continue;
          lastPx = px;
        }
        drawn = true;
        add(i, x, w, d, highlight !== undefined && !highlight[i]);
      }
      if (!drawn && d > fd) break;
    }
    const paint = (bucket: Map<string, number[]>): void => {
      for (const [colour, r] of bucket) {
        g.fillStyle = colour;
        g.beginPath();
        for (let k = 0; k < r.length; k += 3) g.rect(r[k], r[k + 1], r[k + 2], ROW - 1);
        g.fill();
      }
    };
    paint(solid);
    g.globalAlpha = 0.28;
    paint(faded);
    g.globalAlpha = 1;
    g.fillStyle = textColour;
    for (let k = 0; k < labels.length; k += 4) {
      const name = f.names[f.name[labels[k]]];
      const fit = Math.floor((labels[k + 3] - 6) / charW);
      g.fillText(fit >= name.length ? name : `${name.slice(0, Math.max(fit - 1, 1))}…`, labels[k + 1] + 3, labels[k + 2] + ROW / 2);
    }
    if (selected > 0 && selected < f.n) {
      const w = f.total[selected] * scale;
      const x = (f.offset[selected] - x0) * scale;
      if (f.depth[selected] >= fd && x + w > 0 && x < width) {
        g.strokeStyle = dark ? '#ffffff' : '#000000';
        g.lineWidth = 2;
        g.strokeRect(Math.max(x, 1), yOf(f.depth[selected]) + 1, Math.min(w, width - 2) - 1, ROW - 3);
      }
    }
    performance.measure('firn:flame-draw', { start: t0, end: performance.now(), detail: { nodes: f.n } });
  }, [f, fo, width, height, colours, highlight, selected, dark, inverted]);

  useEffect(() => {
    const id = requestAnimationFrame(draw);
    return () => cancelAnimationFrame(id);
  }, [draw]);

  const hit = (clientX: number, clientY: number): number => {
    const cv = canvas.current;
    if (!cv) return -1;
    const r = cv.getBoundingClientRect();
    const px = clientX - r.left;
    const py = clientY - r.top;
    const row = Math.floor(py / ROW);
    const d = inverted ? f.maxDepth - row : row;
    if (d < f.depth[fo]) {
      for (let a = fo; a >= 0; a = f.parent[a]) {
        if (f.depth[a] === d) return a;
        if (a === 0) break;
      }
      return -1;
    }
    const x = f.offset[fo] + (px / width) * (f.total[fo] || 1);
    return nodeAt(f, d, x);
  };

  const onKey = (e: React.KeyboardEvent): void => {
    const cur = selected > 0 && selected < f.n ? selected : fo;
    let next = -1;
    if (e.key === 'ArrowUp' || e.key === 'ArrowDown') {
      const towardsLeaves = (e.key === 'ArrowDown') !== inverted;
      if (towardsLeaves) {
        // largest child
        const d = f.depth[cur] + 1;
        if (d <= f.maxDepth)
          for (let i = f.depthStart[d]; i < f.depthStart[d + 1]; i++) if (f.parent[i] === cur && (next < 0 || f.total[i] > f.total[next])) next = i;
      } else if (cur > 0) next = f.parent[cur];
    } else if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
      const d = f.depth[cur];
      const step = e.key === 'ArrowRight' ? 1 : -1;
      for (let i = cur + step; i >= f.depthStart[d] && i < f.depthStart[d + 1]; i += step) {
        if (f.total[i] * (width / (f.total[fo] || 1)) >= 0.5 && (fo === 0 || (f.offset[i] >= f.offset[fo] && f.offset[i] < f.offset[fo] + f.total[fo]))) {
          next = i;
          break;
        }
      }
    } else if (e.key === 'Enter' || e.key === ' ') {
      e.preventDefault();
      onFocus(cur);
      return;
    } else if (e.key === 'Escape') {
      onFocus(0);
      return;
    } else return;
    e.preventDefault();
    if (next >= 0) onSelect(next);
  };

  const hovered = hover?.node ?? -1;
  return (
    <div className="flame" ref={box} data-testid={testId}>
      <canvas
        ref={canvas}
        tabIndex={0}
        role="img"
        aria-label={`${title}. ${f.n - 1} frames. Arrow keys select a frame, Enter zooms in, Escape resets the zoom.`}
        onMouseMove={(e) => {
          const node = hit(e.clientX, e.clientY);
          setHover(node >= 0 ? { node, x: e.clientX, y: e.clientY } : undefined);
        }}
        onMouseLeave={() => setHover(undefined)}
        onClick={(e) => {
          const node = hit(e.clientX, e.clientY);
          if (node >= 0) {
            onSelect(node);
            onFocus(node);
          }
        }}
        onKeyDown={onKey}
        style={{ height }}
      />
      {hovered >= 0 && hover && <Tooltip f={f} node={hovered} focus={fo} x={hover.x} y={hover.y} />}
    </div>
  );
}

function Tooltip({ f, node, focus, x, y }: { f: Flame; node: number; focus: number; x: number; y: number }) {
  const left = Math.min(x + 14, window.innerWidth - 380);
  const top = y + 16 + 160 > window.innerHeight ? y - 150 : y + 16;
  return (
    <div className="tooltip" role="tooltip" style={{ left, top }}>
      <NodeDetails f={f} node={node} focus={focus} />
    </div>
  );
}

/** Everything known about one node: used by the tooltip and the (screen-reader announced) details line. */
export function NodeDetails({ f, node, focus }: { f: Flame; node: number; focus: number }) {
  const root = f.total[0] || 1;
  const name = f.names[f.name[node]];
  const binary = f.binaries[f.binary[node]];
  const file = f.files[f.file[node]];
  const line = f.line[node];
  return (
    <>
      <div className="tt-name mono">{name}</div>
      <table className="tt-table">
        <tbody>
          <tr>
            <th>Total</th>
            <td>
              {formatValue(f.total[node], f.unit)} · {percent(f.total[node], root)}
              {focus > 0 && ` (${percent(f.total[node], f.total[focus])} of zoom)`}
            </td>
          </tr>
          <tr>
            <th>Self</th>
            <td>
              {formatValue(f.self[node], f.unit)} · {percent(f.self[node], root)}
            </td>
          </tr>
          {f.diff && (
            <tr>
              <th>Change</th>
              <td>
                {f.diff[node] > 0 ? '+' : ''}
                {formatValue(f.diff[node], f.unit)} ({signedPercent(f.diff[node], f.total[node] - f.diff[node])})
              </td>
            </tr>
          )}
          {binary && (
            <tr>
              <th>Binary</th>
              <td className="mono">{binary}</td>
            </tr>
          )}
          {file && (
            <tr>
              <th>File</th>
              <td className="mono">
                {file}
                {line > 0 && `:${line}`}
              </td>
            </tr>
          )}
        </tbody>
      </table>
    </>
  );
}
