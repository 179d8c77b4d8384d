import { useEffect, useRef } from 'react';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { SeriesData } from '../api/client';
import { useWidth } from '../hooks';
import { frameColour } from '../model/colors';

interface Props {
  series: SeriesData[];
  range: { startMs: number; endMs: number };
  onSelect: (startMs: number, endMs: number) => void;
  dark: boolean;
  /** The profile type's sample unit: nanoseconds of CPU are shown as cores. */
  sampleUnit: string;
}

function seriesName(labels: Array<[string, string]>): string {
  return labels.length ? labels.map(([k, v]) => `${k}=${v}`).join(', ') : 'all';
}

function compact(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e9) return `${+(v / 1e9).toFixed(1)}G`;
  if (a >= 1e6) return `${+(v / 1e6).toFixed(1)}M`;
  if (a >= 1e3) return `${+(v / 1e3).toFixed(1)}k`;
  return String(+v.toFixed(3));
}

/** CPU over time with uPlot (sum, or one line per group); drag across it to choose the range. */
export function SeriesChart({ series, range, onSelect, dark, sampleUnit }: Props) {
  const cores = sampleUnit === 'nanoseconds';
  const unitLabel = cores ? 'CPU cores' : `${sampleUnit || 'value'}/s`;
  const [box, width] = useWidth<HTMLDivElement>();
  const plot = useRef<uPlot>();
  const onSelectRef = useRef(onSelect);
  onSelectRef.current = onSelect;

  useEffect(() => {
    const el = box.current;
    if (!el || width <= 0) return;
    const xs = [...new Set(series.flatMap((s) => s.points.map((p) => p[0])))].sort((a, b) => a - b);
    const index = new Map(xs.map((x, i) => [x, i]));
    const ys = series.map((s) => {
      const col: Array<number | null> = new Array(xs.length).fill(null);
      for (const [t, v] of s.points) col[index.get(t) as number] = cores ? v / 1e9 : v;
      return col;
    });
    const axis = {
      stroke: dark ? '#aab2bf' : '#4b5563',
      grid: { stroke: dark ? '#2b313b' : '#e5e7eb', width: 1 },
      ticks: { stroke: dark ? '#2b313b' : '#e5e7eb' },
    };
    const opts: uPlot.Options = {
      width,
      height: 150,
      scales: { x: { time: true, min: range.startMs / 1000, max: range.endMs / 1000 }, y: { range: (_u, _min, max) => [0, max > 0 ? max * 1.1 : 1] } },
      axes: [
        { ...axis, space: 90 },
        { ...axis, label: unitLabel, labelSize: 16, size: 64, values: (_u, vals) => vals.map((v) => compact(v)) },
      ],
      legend: { show: series.length > 1 },
      cursor: { drag: { x: true, y: false, setScale: false } },
      series: [
        {},
        ...series.map((s, i) => {
          const c = frameColour(seriesName(s.labels) + i, !dark);
          return {
            label: seriesName(s.labels),
            stroke: series.length === 1 ? (dark ? '#6cb6ff' : '#1d4e89') : c,
            fill: series.length === 1 ? (dark ? 'rgba(108,182,255,0.15)' : 'rgba(29,78,137,0.12)') : undefined,
            width: 1.5,
            points: { show: xs.length < 40, size: 5 },
          };
        }),
      ],
      hooks: {
        setSelect: [
          (u) => {
            if (u.select.width < 3) return;
            const a = u.posToVal(u.select.left, 'x') * 1000;
            const b = u.posToVal(u.select.left + u.select.width, 'x') * 1000;
            u.setSelect({ left: 0, top: 0, width: 0, height: 0 }, false);
            onSelectRef.current(Math.round(a), Math.round(b));
          },
        ],
      },
    };
    plot.current?.destroy();
    plot.current = new uPlot(opts, [xs.map((x) => x / 1000), ...ys] as uPlot.AlignedData, el);
    return () => {
      plot.current?.destroy();
      plot.current = undefined;
    };
  }, [series, range.startMs, range.endMs, width, dark, unitLabel, box]);

  return <div className="series" ref={box} aria-label="CPU over time; drag across the chart to choose a time range" role="figure" />;
}
