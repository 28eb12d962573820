// The training curve of a run as an SVG: loss and validation loss on the left, accuracy and
// validation accuracy on the right, one point per epoch. Hand-written because it is a few dozen lines
// of text; charting libraries for Node need a DOM or a canvas, a large dependency for two line plots.

export interface CurvePoint {
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss: number | null;
  valAccuracy: number | null;
}

interface Series {
  name: string;
  color: string;
  dashed?: boolean;
  values: (number | null)[];
}

const W = 360;
const H = 240;
const PAD = { left: 52, right: 14, top: 28, bottom: 36 };
const TRAIN_COLOR = '#1f77b4';
const VAL_COLOR = '#ff7f0e';

const finite = (v: number | null | undefined): v is number => typeof v === 'number' && Number.isFinite(v);

function fmt(v: number): string {
  if (v === 0) return '0';
  const a = Math.abs(v);
  if (a >= 100) return v.toFixed(0);
  if (a >= 1) return v.toFixed(2);
  return v.toPrecision(3);
}

function panel(x0: number, title: string, series: Series[], epochs: number[], range?: [number, number]): string {
  const values = series.flatMap((s) => s.values).filter(finite);
  let [lo, hi] = range ?? [Math.min(...values), Math.max(...values)];
  if (!finite(lo) || !finite(hi)) [lo, hi] = [0, 1];
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5];
  const first = epochs[0] ?? 1;
  const last = epochs[epochs.length - 1] ?? first;
  const plotW = W - PAD.left - PAD.right;
  const plotH = H - PAD.top - PAD.bottom;
  const px = (e: number) => x0 + PAD.left + (last > first ? (e - first) / (last - first) : 0.5) * plotW;
  const py = (v: number) => PAD.top + (1 - (v - lo) / (hi - lo)) * plotH;
  const out = [
    `<text x="${x0 + W / 2}" y="17" text-anchor="middle" font-weight="bold">${title}</text>`,
    `<rect x="${x0 + PAD.left}" y="${PAD.top}" width="${plotW}" height="${plotH}" fill="none" stroke="#999"/>`,
  ];
  for (let i = 0; i <= 4; i++) {
    const v = lo + ((hi - lo) * i) / 4;
    const y = py(v).toFixed(1);
    out.push(`<line x1="${x0 + PAD.left}" x2="${x0 + PAD.left + plotW}" y1="${y}" y2="${y}" stroke="#eee"/>`);
    out.push(`<text x="${x0 + PAD.left - 4}" y="${y}" dy="4" text-anchor="end">${fmt(v)}</text>`);
  }
  out.push(`<text x="${x0 + PAD.left}" y="${H - PAD.bottom + 14}">${first}</text>`);
  if (last !== first) out.push(`<text x="${x0 + PAD.left + plotW}" y="${H - PAD.bottom + 14}" text-anchor="end">${last}</text>`);
  out.push(`<text x="${x0 + PAD.left + plotW / 2}" y="${H - PAD.bottom + 14}" text-anchor="middle">epoch</text>`);
  series.forEach((s, i) => {
    const pts = s.values.flatMap((v, j) => (finite(v) ? [[px(epochs[j]), py(v)] as const] : []));
    const dash = s.dashed ? ' stroke-dasharray="5 3"' : '';
    if (pts.length > 1) {
      out.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2"${dash} points="${pts.map(([x, y]) => `${x.toFixed(1)},${y.toFixed(1)}`).join(' ')}"/>`);
    }
    for (const [x, y] of pts) out.push(`<circle cx="${x.toFixed(1)}" cy="${y.toFixed(1)}" r="2.5" fill="${s.color}"/>`);
    out.push(`<text x="${x0 + PAD.left + 6 + i * 100}" y="${H - 8}" fill="${s.color}">${s.name}</text>`);
  });
  return out.join('\n');
}

/** A 720×240 SVG document with the loss and accuracy curves of `history` (ordered by epoch). */
export function trainingCurveSvg(history: readonly CurvePoint[]): string {
  const epochs = history.map((h) => h.epoch);
  const left = panel(0, 'loss', [
    { name: 'train loss', color: TRAIN_COLOR, values: history.map((h) => h.loss) },
    { name: 'val loss', color: VAL_COLOR, dashed: true, values: history.map((h) => h.valLoss) },
  ], epochs);
  const accuracies = history.flatMap((h) => [h.accuracy, h.valAccuracy]).filter(finite);
  const accRange: [number, number] | undefined = accuracies.length ? [Math.min(...accuracies), Math.min(1, Math.max(...accuracies))] : undefined;
  const right = panel(W, 'accuracy', [
    { name: 'train accuracy', color: TRAIN_COLOR, values: history.map((h) => h.accuracy) },
    { name: 'val accuracy', color: VAL_COLOR, dashed: true, values: history.map((h) => h.valAccuracy) },
  ], epochs, accRange);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H}" viewBox="0 0 ${2 * W} ${H}" font-family="sans-serif" font-size="11">`,
    '<rect width="100%" height="100%" fill="white"/>',
    left,
    right,
    '</svg>',
    '',
  ].join('\n');
}
