// The training curve of a run as an SVG: loss and validation loss on the left, accuracy and
// validation accuracy on the right, one point per epoch. Hand-written because it is a few dozen lines
// of text; a charting library would pull in a DOM or a canvas for no gain.

export interface CurvePoint {
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss: number | null;
  valAccuracy: number | null;
}

const W = 360;
const H = 240;
const PAD = { left: 48, right: 12, top: 28, bottom: 32 };

function panel(x0: number, title: string, series: { name: string; color: string; values: (number | null)[] }[], epochs: number[], fixedRange?: [number, number]): string {
  const all = series.flatMap((s) => s.values).filter((v): v is number => v !== null && Number.isFinite(v));
  let [lo, hi] = fixedRange ?? [Math.min(...all, Infinity), Math.max(...all, -Infinity)];
  if (!Number.isFinite(lo) || !Number.isFinite(hi)) [lo, hi] = [0, 1];
  if (hi - lo < 1e-9) [lo, hi] = [lo - 0.5, hi + 0.5];
  const first = epochs[0] ?? 1;
  const last = epochs[epochs.length - 1] ?? 1;
  const px = (e: number) => x0 + PAD.left + ((e - first) / Math.max(1, last - first)) * (W - PAD.left - PAD.right);
  const py = (v: number) => PAD.top + (1 - (v - lo) / (hi - lo)) * (H - PAD.top - PAD.bottom);
  const fmt = (v: number) => (Math.abs(v) >= 10 ? v.toFixed(0) : v.toFixed(3));
  const parts = [
    `<text x="${x0 + W / 2}" y="16" text-anchor="middle" font-weight="bold">${title}</text>`,
    `<rect x="${x0 + PAD.left}" y="${PAD.top}" width="${W - PAD.left - PAD.right}" height="${H - PAD.top - PAD.bottom}" fill="none" stroke="#999"/>`,
    `<text x="${x0 + PAD.left - 4}" y="${PAD.top + 4}" text-anchor="end">${fmt(hi)}</text>`,
    `<text x="${x0 + PAD.left - 4}" y="${H - PAD.bottom}" text-anchor="end">${fmt(lo)}</text>`,
    `<text x="${x0 + PAD.left}" y="${H - PAD.bottom + 14}">epoch ${first}</text>`,
    `<text x="${x0 + W - PAD.right}" y="${H - PAD.bottom + 14}" text-anchor="end">${last}</text>`,
  ];
  series.forEach((s, i) => {
    const pts = s.values.map((v, j) => (v === null || !Number.isFinite(v) ? null : `${px(epochs[j]!).toFixed(1)},${py(v).toFixed(1)}`)).filter(Boolean);
    if (pts.length) parts.push(`<polyline fill="none" stroke="${s.color}" stroke-width="2" points="${pts.join(' ')}"/>`);
    parts.push(`<text x="${x0 + PAD.left + 6 + i * 90}" y="${H - 6}" fill="${s.color}">${s.name}</text>`);
  });
  return parts.join('\n');
}

export function trainingCurveSvg(history: CurvePoint[]): string {
  const epochs = history.map((h) => h.epoch);
  const left = panel(0, 'loss', [
    { name: 'train', color: '#1f77b4', values: history.map((h) => h.loss) },
    { name: 'validation', color: '#ff7f0e', values: history.map((h) => h.valLoss) },
  ], epochs);
  const right = panel(W, 'accuracy', [
    { name: 'train', color: '#1f77b4', values: history.map((h) => h.accuracy) },
    { name: 'validation', color: '#ff7f0e', values: history.map((h) => h.valAccuracy) },
  ], epochs);
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${2 * W}" height="${H}" font-family="sans-serif" font-size="11">\n<rect width="100%" height="100%" fill="white"/>\n${left}\n${right}\n</svg>\n`;
}
