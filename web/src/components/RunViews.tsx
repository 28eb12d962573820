// Views of a training run shared by the job, model and compare pages: curves, test metrics,
// per-class table, confusion matrix, misclassified test images.
import { api, call } from '../api.ts';
import { ConfusionMatrix, DigitImage, LineChart, type Series } from './charts.tsx';
import { ErrorBox, KV, Section } from './ui.tsx';
import { num, pct, useLoad } from '../util.ts';

export interface EpochMetric {
  epoch: number;
  loss: number;
  accuracy: number;
  valLoss: number | null;
  valAccuracy: number | null;
  learningRate: number;
  seconds: number;
  samplesPerSec: number;
}
export interface EvalMetrics {
  accuracy: number;
  loss: number;
  count: number;
  perClass: { class: number; precision: number; recall: number; f1: number; support: number }[];
  confusionMatrix: number[][];
  /** Newer APIs (issue 16): calibration. */
  ece?: number;
}

export function Curves({ metrics }: { metrics: EpochMetric[] }) {
  if (metrics.length === 0) return <p class="note">No epoch finished yet: the curves appear after the first one.</p>;
  const x = metrics.map((m) => m.epoch);
  const loss: Series[] = [
    { label: 'train loss', values: metrics.map((m) => m.loss) },
    { label: 'val loss', values: metrics.map((m) => m.valLoss), dash: true },
  ];
  const acc: Series[] = [
    { label: 'train accuracy', values: metrics.map((m) => m.accuracy) },
    { label: 'val accuracy', values: metrics.map((m) => m.valAccuracy), dash: true },
  ];
  const lr: Series[] = [{ label: 'learning rate', values: metrics.map((m) => m.learningRate) }];
  const last = metrics[metrics.length - 1]!;
  return (
    <div>
      <div class="charts">
        <LineChart title="Loss" x={x} series={loss} yLabel="loss" />
        <LineChart title="Accuracy" x={x} series={acc} yLabel="accuracy" />
        <LineChart title="Learning rate" x={x} series={lr} yLabel="rate" height={160} />
      </div>
      <p class="note">
        Last epoch {last.epoch}: {Math.round(last.samplesPerSec).toLocaleString()} samples/s, {num(last.seconds, 1)} s.
      </p>
    </div>
  );
}

export function TestMetrics({ test, title = 'Test metrics' }: { test: EvalMetrics; title?: string }) {
  return (
    <Section title={title}>
      <KV
        items={[
          ['accuracy', <strong data-testid="test-accuracy">{pct(test.accuracy, 2)}</strong>],
          ['loss', num(test.loss)],
          ['test images', test.count?.toLocaleString()],
          ...(test.ece != null ? ([['calibration error (ECE)', num(test.ece)]] as [string, string][]) : []),
        ]}
      />
      <div class="grid-2">
        <div>
          <h3>Per class</h3>
          <PerClass rows={test.perClass} />
        </div>
        <div>
          <h3>Confusion matrix</h3>
          <ConfusionMatrix matrix={test.confusionMatrix} />
        </div>
      </div>
    </Section>
  );
}

export function PerClass({ rows }: { rows: EvalMetrics['perClass'] }) {
  return (
    <div class="scroll-x">
      <table class="list num" aria-label="Precision, recall and F1 per class">
        <thead>
          <tr>
            <th scope="col">class</th>
            <th scope="col">precision</th>
            <th scope="col">recall</th>
            <th scope="col">F1</th>
            <th scope="col">support</th>
          </tr>
        </thead>
        <tbody>
          {rows.map((r) => (
            <tr key={r.class}>
              <th scope="row">{r.class}</th>
              <td>{num(r.precision, 3)}</td>
              <td>{num(r.recall, 3)}</td>
              <td>{num(r.f1, 3)}</td>
              <td>{r.support}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}

interface Misclassified {
  scanned: number;
  misclassified: number;
  items: { index: number; label: number; predicted: number; confidence: number; pixels: string }[];
}
const decode = (b64: string) => Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));

/** The grid of test images the model gets wrong (GET /v1/models/:id/misclassified, where the API has it). */
export function MisclassifiedGrid({ modelId }: { modelId: string }) {
  const res = useLoad<Misclassified | null>(async () => {
    try {
      return await call(api.GET('/v1/models/{id}/misclassified', { params: { path: { id: modelId }, query: { limit: 48, scan: 2000 } } }));
    } catch (err) {
      if ((err as { code?: string }).code === 'ROUTE_NOT_FOUND') return null; // an API without the route
      throw err;
    }
  }, [modelId]);
  if (res.data === null) return null;
  return (
    <Section title="Misclassified test images">
      <ErrorBox error={res.error} />
      {!res.data && !res.error && <p class="note">Looking for mistakes…</p>}
      {res.data && (
        <>
          <p class="note">
            {res.data.misclassified} of the first {res.data.scanned.toLocaleString()} test images are misclassified
            {res.data.misclassified > res.data.items.length ? `; the first ${res.data.items.length} are shown` : ''}.
          </p>
          <ul class="digits">
            {res.data.items.map((m) => (
              <li key={m.index}>
                <DigitImage pixels={decode(m.pixels)} label={`test image ${m.index}: true ${m.label}, predicted ${m.predicted}`} />
                <span>
                  {m.label} → <strong>{m.predicted}</strong>
                </span>
                <small>{pct(m.confidence, 0)}</small>
              </li>
            ))}
          </ul>
        </>
      )}
    </Section>
  );
}
