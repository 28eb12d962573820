// Charts: line charts with uPlot (curves per epoch), a confusion-matrix heatmap and bar lists as
// HTML (so screen readers get the numbers), and a parallel-coordinates chart in SVG for sweeps.
import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

const COLORS = ['#1f5fbf', '#c2410c', '#15803d', '#7e22ce', '#b91c1c', '#0e7490', '#a16207', '#be185d'];
export const color = (i: number) => COLORS[i % COLORS.length]!;

export interface Series {
  label: string;
  /** y per x; null where there is no value. */
  values: (number | null)[];
  dash?: boolean;
}

/** A line chart of series over shared x values (epochs). */
export function LineChart({ title, x, series, yLabel, height = 220 }: { title: string; x: number[]; series: Series[]; yLabel?: string; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const key = series.map((s) => s.label).join('|');
  useEffect(() => {
    const el = box.current!;
    const opts: uPlot.Options = {
      width: Math.max(260, el.clientWidth),
      height,
      legend: { show: true },
      scales: { x: { time: false } },
      axes: [{ label: 'epoch', stroke: '#333', grid: { stroke: '#e5e7eb' }, incrs: [1, 2, 5, 10, 20, 50, 100] }, { label: yLabel, stroke: '#333', grid: { stroke: '#e5e7eb' }, size: 60 }],
      series: [{ label: 'epoch' }, ...series.map((s, i) => ({ label: s.label, stroke: color(i), width: 2, dash: s.dash ? [6, 4] : undefined, points: { show: true, size: 5 }, spanGaps: true }))],
    };
    plot.current = new uPlot(opts, [x, ...series.map((s) => s.values)] as uPlot.AlignedData, el);
    const ro = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(260, el.clientWidth), height }));
    ro.observe(el);
    return () => {
      ro.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [key, height, yLabel]);
  useEffect(() => {
    plot.current?.setData([x, ...series.map((s) => s.values)] as uPlot.AlignedData);
  }, [x, series]);
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={box} class="chart-box" role="img" aria-label={`${title}: ${series.map((s) => `${s.label} last ${lastOf(s.values)}`).join(', ')}`} />
    </figure>
  );
}
const lastOf = (v: (number | null)[]) => {
  for (let i = v.length - 1; i >= 0; i--) if (v[i] != null) return Number(v[i]!.toFixed(4));
  return 'none';
};

/** confusion[true][predicted] as a table whose cells are shaded by their share of the row. */
export function ConfusionMatrix({ matrix, labels }: { matrix: number[][]; labels?: string[] }) {
  const name = (i: number) => labels?.[i] ?? String(i);
  return (
    <div class="scroll-x">
      <table class="heatmap" aria-label="Confusion matrix: rows are the true class, columns the predicted class">
        <thead>
          <tr>
            <th scope="col">true ↓ / predicted →</th>
            {matrix.map((_, j) => (
              <th scope="col" key={j}>
                {name(j)}
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {matrix.map((row, i) => {
            const total = row.reduce((a, b) => a + b, 0) || 1;
            return (
              <tr key={i}>
                <th scope="row">{name(i)}</th>
                {row.map((v, j) => {
                  const share = v / total;
                  // Diagonal in blue, errors in red; the text flips to white on dark cells for contrast.
                  const hue = i === j ? 215 : 0;
                  const light = v === 0 ? 100 : Math.round(96 - Math.sqrt(share) * 66);
                  return (
                    <td key={j} style={{ background: `hsl(${hue} 70% ${light}%)`, color: light < 55 ? '#fff' : '#111' }} title={`true ${name(i)}, predicted ${name(j)}: ${v}`}>
                      {v}
                    </td>
                  );
                })}
              </tr>
            );
          })}
        </tbody>
      </table>
    </div>
  );
}

/** Horizontal bars with their values, e.g. class probabilities. */
export function Bars({ items, highlight, format = (v) => v.toFixed(3), label }: { items: { label: string; value: number }[]; highlight?: number; format?: (v: number) => string; label: string }) {
  const max = Math.max(1e-9, ...items.map((i) => i.value));
  return (
    <ul class="bars" aria-label={label}>
      {items.map((it, i) => (
        <li key={it.label} class={i === highlight ? 'bar-best' : ''}>
          <span class="bar-label">{it.label}</span>
          <span class="bar-track">
            <span class="bar-fill" style={{ width: `${(it.value / max) * 100}%` }} />
          </span>
          <span class="bar-value">{format(it.value)}</span>
        </li>
      ))}
    </ul>
  );
}

/** Grouped bars (one group per class, one bar per split) in SVG, with the numbers as a table too. */
export function GroupedBars({ groups, series, title }: { groups: string[]; series: { label: string; values: number[] }[]; title: string }) {
  const max = Math.max(1e-9, ...series.flatMap((s) => s.values.map((v) => v / Math.max(1, sum(s.values)))));
  const W = 600;
  const H = 200;
  const gw = W / groups.length;
  const bw = (gw * 0.8) / series.length;
  return (
    <figure class="chart">
      <figcaption>{title} (share of each split)</figcaption>
      <svg viewBox={`0 0 ${W} ${H + 24}`} class="svg-chart" role="img" aria-label={title}>
        {groups.map((g, gi) => (
          <g key={g}>
            {series.map((s, si) => {
              const share = s.values[gi]! / Math.max(1, sum(s.values));
              const h = (share / max) * H;
              return (
                <rect key={s.label} x={gi * gw + gw * 0.1 + si * bw} y={H - h} width={bw - 1} height={h} fill={color(si)}>
                  <title>{`${s.label}, class ${g}: ${s.values[gi]} (${(share * 100).toFixed(1)} %)`}</title>
                </rect>
              );
            })}
            <text x={gi * gw + gw / 2} y={H + 16} text-anchor="middle" font-size="12" fill="#333">
              {g}
            </text>
          </g>
        ))}
      </svg>
      <p class="legend">
        {series.map((s, i) => (
          <span key={s.label}>
            <span class="swatch" style={{ background: color(i) }} /> {s.label}
          </span>
        ))}
      </p>
    </figure>
  );
}
const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);

/**
 * Parallel coordinates: one vertical axis per dimension, one line per row, coloured by the last
 * dimension. An axis whose values are all positive and span 20× or more (a log-uniform learning rate)
 * is logarithmic, so the trials do not crowd at its bottom.
 */
export function ParallelCoordinates({ dims, rows, title }: { dims: string[]; rows: (number | null)[][]; title: string }) {
  const W = 640;
  const H = 240;
  const pad = 30;
  const axes = dims.map((_, d) => {
    const vals = rows.map((r) => r[d]).filter((v): v is number => v != null);
    const lo = Math.min(...vals);
    const hi = Math.max(...vals);
    const log = lo > 0 && hi / lo >= 20;
    const t = log ? Math.log10 : (v: number) => v;
    return { lo, hi, log, t, a: t(lo), b: hi === lo ? t(lo) + 1 : t(hi) };
  });
  const xOf = (d: number) => pad + (d * (W - 2 * pad)) / Math.max(1, dims.length - 1);
  const share = (d: number, v: number) => {
    const ax = axes[d]!;
    return (ax.t(v) - ax.a) / (ax.b - ax.a);
  };
  const yOf = (d: number, v: number) => H - pad - share(d, v) * (H - 2 * pad);
  const last = dims.length - 1;
  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <svg viewBox={`0 0 ${W} ${H}`} class="svg-chart" role="img" aria-label={`${title}: ${rows.length} trials over ${dims.join(', ')}`}>
        {rows.map((r, i) => {
          const pts = r.map((v, d) => (v == null ? null : `${xOf(d)},${yOf(d, v)}`)).filter(Boolean);
          const t = r[last] == null ? 0 : share(last, r[last]!);
          return <polyline key={i} points={pts.join(' ')} fill="none" stroke={`hsl(${Math.round(10 + t * 200)} 75% 42%)`} stroke-width="2" opacity="0.8" />;
        })}
        {dims.map((d, i) => (
          <g key={d}>
            <line x1={xOf(i)} x2={xOf(i)} y1={pad} y2={H - pad} stroke="#333" />
            <text x={xOf(i)} y={pad - 10} text-anchor={i === 0 ? 'start' : i === last ? 'end' : 'middle'} font-size="11" fill="#111">
              {d}
              {axes[i]!.log ? ' (log)' : ''}
            </text>
            <text x={xOf(i)} y={H - pad + 14} text-anchor="middle" font-size="10" fill="#333">
              {fmt(axes[i]!.lo)}
            </text>
            <text x={xOf(i)} y={pad + 2} dx="4" font-size="10" fill="#333">
              {fmt(axes[i]!.hi)}
            </text>
          </g>
        ))}
      </svg>
    </figure>
  );
}
const fmt = (v: number) => (Math.abs(v) >= 100 || Number.isInteger(v) ? String(Math.round(v)) : v.toPrecision(3));

/** A height×width uint8 (or [0,1] float) image drawn on a canvas, scaled up with crisp pixels. */
export function DigitImage({ pixels, side = 28, size = 56, label }: { pixels: ArrayLike<number>; side?: number; size?: number; label: string }) {
  const ref = useRef<HTMLCanvasElement>(null);
  useEffect(() => {
    const ctx = ref.current!.getContext('2d')!;
    const img = ctx.createImageData(side, side);
    const scale = Array.prototype.some.call(pixels, (v: number) => v > 1) ? 1 : 255;
    for (let i = 0; i < side * side; i++) {
      const v = Math.round((pixels[i] ?? 0) * scale);
      img.data.set([v, v, v, 255], i * 4);
    }
    ctx.putImageData(img, 0, 0);
  }, [pixels, side]);
  return <canvas ref={ref} width={side} height={side} class="digit" style={{ width: `${size}px`, height: `${size}px` }} role="img" aria-label={label} />;
}
