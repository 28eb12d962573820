// Terminal output of the CLI: tables, the progress line of --follow, and result summaries.
import type { EpochMetric, Job, ProgressOf, ResultOf } from '../client/index.js';

export const short = (id: string | null | undefined) => (id ? id.slice(0, 8) : '–');
export const pct = (v: number | null | undefined, d = 2) => (v == null ? '–' : `${(v * 100).toFixed(d)} %`);

export function duration(s: number | null | undefined): string {
  if (s == null || !Number.isFinite(s)) return '–';
  s = Math.max(0, Math.round(s));
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** Columns padded to their widest cell. */
export function table(head: string[], rows: (string | number)[][]): string {
  const cells = [head, ...rows.map((r) => r.map(String))];
  const widths = head.map((_, i) => Math.max(...cells.map((r) => (r[i] ?? '').length)));
  return cells.map((r) => r.map((c, i) => (i === r.length - 1 ? c : c.padEnd(widths[i]!))).join('  ')).join('\n');
}

/**
 * Any job's progress, or what of it has arrived: a sweep's holds every field the other types' have,
 * and its trials (in all, succeeded, the best objective so far).
 */
export type ProgressState = Partial<ProgressOf<'sweep'>>;
/** The latest epoch's metrics. */
export type LastMetric = Partial<Pick<EpochMetric, 'epoch' | 'loss' | 'accuracy' | 'valAccuracy'>>;

/**
 * One progress line: bar, percent, epoch, last loss and accuracy, ETA. Redrawn in place on a terminal,
 * printed at most every few seconds otherwise (logs, pipes). Hand-rolled: it is one line of text,
 * and it must mix the job's own fields (epoch, loss, ETA) that bar libraries would need a template for.
 */
export class ProgressLine {
  private lastPrinted = 0;
  private lastText = '';
  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  render(p: ProgressState, m: LastMetric | undefined, status: string): string {
    const percent = Math.max(0, Math.min(100, p.percent ?? 0));
    const width = 24;
    const filled = Math.round((percent / 100) * width);
    const parts = [`[${'#'.repeat(filled)}${'-'.repeat(width - filled)}] ${percent.toFixed(0).padStart(3)}%`];
    if (p.trials) parts.push(`trials ${p.done ?? 0}/${p.trials}`);
    if (p.bestObjective != null) parts.push(`best ${p.bestObjective.toFixed(4)}`);
    if (p.epochs) parts.push(`epoch ${Math.max(p.epoch ?? 0, m?.epoch ?? 0)}/${p.epochs}`);
    if (m?.loss != null) parts.push(`loss ${m.loss.toFixed(4)}`);
    if (m?.accuracy != null) parts.push(`acc ${pct(m.accuracy)}`);
    if (m?.valAccuracy != null) parts.push(`val ${pct(m.valAccuracy)}`);
    if (p.samplesPerSec) parts.push(`${Math.round(p.samplesPerSec)}/s`);
    if (status === 'running' && p.etaSeconds != null) parts.push(`ETA ${duration(p.etaSeconds)}`);
    if (p.stage && !p.epochs && !p.trials && p.stage !== status) parts.push(p.stage);
    if (status !== 'running') parts.push(status);
    return parts.join('  ');
  }

  update(p: ProgressState, m: LastMetric | undefined, status: string) {
    const text = this.render(p, m, status);
    if (text === this.lastText) return;
    this.lastText = text;
    if (this.out.isTTY) {
      this.out.write(`\r\x1b[2K${text}`);
    } else if (Date.now() - this.lastPrinted > 2000 || status !== 'running') {
      this.out.write(`${text}\n`);
      this.lastPrinted = Date.now();
    }
  }

  done() {
    if (this.out.isTTY && this.lastText) this.out.write('\n');
  }
}

/** A finished job in a few lines, by type. */
export function summary(job: Job): string {
  const lines = [`job ${job.id} ${job.type} ${job.status}`];
  if (job.error) lines.push(`error ${job.error.code}: ${job.error.message}`);
  if (job.type === 'dataset-prep' && job.result) {
    const r = job.result;
    lines.push(
      `dataset ${r.datasetId}: ${Object.entries(r.counts ?? {})
        .map(([k, v]) => `${k} ${v}`)
        .join(', ')}`,
    );
  } else if ((job.type === 'train' || job.type === 'fine-tune') && job.result) {
    const r = job.result;
    const tuned = job.type === 'fine-tune' ? job.result : null;
    const t = tuned?.after ?? r.test;
    lines.push(`model ${r.modelId}, ${r.epochsRun} epochs${r.stoppedEarly ? ' (stopped early)' : ''} in ${duration(r.seconds)}`);
    if (tuned?.delta) lines.push(`vs base model: ${tuned.delta.accuracy >= 0 ? '+' : ''}${(tuned.delta.accuracy * 100).toFixed(2)} points`);
    if (t) lines.push(`test accuracy ${pct(t.accuracy)} (loss ${t.loss.toFixed(4)}, ${t.count} images)`);
  } else if (job.type === 'predict' && job.result) {
    const r = job.result;
    lines.push(`${r.count} predictions with model ${r.modelId}${r.accuracy != null ? `, accuracy ${pct(r.accuracy)}` : ''}`);
  } else if (job.type === 'sweep' && job.result) {
    lines.push(...sweepSummary(job.result, job.params.objective?.metric ?? 'objective'));
  }
  return lines.join('\n');
}

/** A finished sweep: its leaderboard (best first, a column per searched parameter), then the best trial. */
function sweepSummary(r: ResultOf<'sweep'>, metric: string): string[] {
  const board = r.leaderboard ?? [];
  const keys = [...new Set(board.flatMap((t) => Object.keys(t.params ?? {})))];
  const value = (v: unknown) => (v === undefined ? '–' : typeof v === 'number' ? String(Number(v.toPrecision(4))) : JSON.stringify(v));
  const rows = board.map((t, i) => [
    i + 1,
    short(t.trialId),
    t.stoppedEarly ? 'stopped' : t.status,
    ...keys.map((k) => value(t.params[k])),
    t.objective == null ? '–' : t.objective.toFixed(4),
    t.epochsRun,
    pct(t.testAccuracy),
  ]);
  const out = [`${board.length} trials`, table(['RANK', 'TRIAL', 'STATUS', ...keys, metric.toUpperCase(), 'EPOCHS', 'TEST ACC'], rows)];
  const b = r.best;
  if (b) {
    out.push(
      `best trial ${b.trialId}: ${metric} ${b.objective?.toFixed(4) ?? '–'}${b.modelId ? `, model ${b.modelId}` : ''}${b.testAccuracy != null ? `, test accuracy ${pct(b.testAccuracy)}` : ''}`,
    );
  } else {
    out.push('no trial has a model');
  }
  if (r.promotedAlias && b?.modelId) out.splice(out.length - 1, 0, `alias ${r.promotedAlias} → ${b.modelId}`);
  return out;
}
