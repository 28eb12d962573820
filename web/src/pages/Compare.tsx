// Compare: two or more runs' curves overlaid and their test metrics side by side.
import { useLocation } from 'preact-iso';
import { api, call, type Job } from '../api.ts';
import { LineChart, type Series } from '../components/charts.tsx';
import { ErrorBox, Section } from '../components/ui.tsx';
import type { EpochMetric } from '../components/RunViews.tsx';
import { duration, num, pct, short, useLoad, useTitle } from '../util.ts';

export function ComparePage() {
  useTitle('Compare');
  const { query, route } = useLocation();
  const ids = (query.ids ?? '').split(',').filter(Boolean);
  const candidates = useLoad(async () => {
    const [train, fine] = await Promise.all([
      call(api.GET('/v1/jobs', { params: { query: { type: 'train', limit: 50 } } })),
      call(api.GET('/v1/jobs', { params: { query: { type: 'fine-tune', limit: 50 } } })),
    ]);
    return [...train.items, ...fine.items].sort((a, b) => b.createdAt.localeCompare(a.createdAt));
  }, []);
  const runs = useLoad(
    () =>
      Promise.all(
        ids.map(async (id) => {
          const [job, metrics] = await Promise.all([
            call(api.GET('/v1/jobs/{id}', { params: { path: { id } } })),
            call(api.GET('/v1/jobs/{id}/metrics', { params: { path: { id } } })),
          ]);
          return { job, metrics: metrics.items as EpochMetric[] };
        }),
      ),
    [ids.join(',')],
  );
  const toggle = (id: string, on: boolean) => {
    const next = on ? [...new Set([...ids, id])] : ids.filter((i) => i !== id);
    route(`/ui/compare${next.length ? `?ids=${next.join(',')}` : ''}`);
  };
  const data = runs.data ?? [];
  const epochs = [...new Set(data.flatMap((r) => r.metrics.map((m) => m.epoch)))].sort((a, b) => a - b);
  const along = (pick: (m: EpochMetric) => number | null, name: string): Series[] =>
    data.map((r) => ({ label: `${short(r.job.id)} ${name}`, values: epochs.map((e) => { const m = r.metrics.find((x) => x.epoch === e); return m ? pick(m) : null; }) }));
  return (
    <main id="main" class="page">
      <h1>Compare runs</h1>
      <div class="grid-2 compare">
        <Section title="Runs">
          <ErrorBox error={candidates.error} />
          <fieldset>
            <legend>Choose two or more</legend>
            <ul class="checklist">
              {(candidates.data ?? []).map((j) => (
                <li key={j.id}>
                  <label>
                    <input type="checkbox" checked={ids.includes(j.id)} onChange={(e) => toggle(j.id, e.currentTarget.checked)} /> <span class="mono">{short(j.id)}</span> {j.type} ·{' '}
                    {(j.params as any)?.architecture ?? 'fine-tune'} · {j.status}
                    {(j.result as any)?.test && ` · ${pct((j.result as any).test.accuracy, 2)}`}
                  </label>
                </li>
              ))}
            </ul>
          </fieldset>
        </Section>
        <div>
          <ErrorBox error={runs.error} />
          {data.length === 0 && <p class="note">Pick runs on the left to overlay their curves.</p>}
          {data.length > 0 && (
            <>
              <Section title="Curves">
                <div class="charts">
                  <LineChart title="Validation accuracy" x={epochs} series={along((m) => m.valAccuracy, 'val acc')} yLabel="accuracy" />
                  <LineChart title="Validation loss" x={epochs} series={along((m) => m.valLoss, 'val loss')} yLabel="loss" />
                  <LineChart title="Training loss" x={epochs} series={along((m) => m.loss, 'loss')} yLabel="loss" />
                </div>
              </Section>
              <Section title="Metrics side by side">
                <MetricsTable runs={data.map((r) => r.job)} />
              </Section>
            </>
          )}
        </div>
      </div>
    </main>
  );
}

function MetricsTable({ runs }: { runs: Job[] }) {
  const rows: [string, (j: Job) => string][] = [
    ['type', (j) => j.type],
    ['status', (j) => j.status],
    ['architecture', (j) => (j.params as any)?.architecture ?? '–'],
    ['epochs', (j) => String((j.result as any)?.epochsRun ?? (j.params as any)?.epochs ?? '–')],
    ['batch size', (j) => String((j.params as any)?.batchSize ?? '–')],
    ['learning rate', (j) => String((j.params as any)?.optimizer?.learningRate ?? (j.params as any)?.learningRate ?? '–')],
    ['test accuracy', (j) => pct(res(j)?.accuracy, 2)],
    ['test loss', (j) => num(res(j)?.loss)],
    ['samples/s', (j) => ((j.result as any)?.trainSamplesPerSec ? Math.round((j.result as any).trainSamplesPerSec).toLocaleString() : '–')],
    ['time', (j) => duration((j.result as any)?.seconds)],
  ];
  return (
    <div class="scroll-x">
      <table class="list" aria-label="Metrics of the chosen runs">
        <thead>
          <tr>
            <th scope="col">metric</th>
            {runs.map((j) => (
              <th scope="col" key={j.id}>
                <a href={`/ui/jobs/${j.id}`} class="mono">
                  {short(j.id)}
                </a>
              </th>
            ))}
          </tr>
        </thead>
        <tbody>
          {rows.map(([name, f]) => (
            <tr key={name}>
              <th scope="row">{name}</th>
              {runs.map((j) => (
                <td key={j.id}>{f(j)}</td>
              ))}
            </tr>
          ))}
        </tbody>
      </table>
    </div>
  );
}
const res = (j: Job) => ((j.result as any)?.after ?? (j.result as any)?.test) as { accuracy: number; loss: number } | undefined;
