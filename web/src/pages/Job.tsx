// A job: parameters, status history, live progress and curves (events stream), and its result by
// type: test metrics for a run, counts for a dataset, accuracy and a sample for a bulk predict, the
// leaderboard and parallel coordinates for a sweep.
import { useEffect, useState } from 'preact/hooks';
import { useRoute } from 'preact-iso';
import { api, call, errorText, type Job } from '../api.ts';
import { streamEvents } from '../../../src/client/index.ts';
import { Badge, ErrorBox, Json, KV, Progress, RoleButton, Section } from '../components/ui.tsx';
import { ConfusionMatrix, ParallelCoordinates } from '../components/charts.tsx';
import { Curves, MisclassifiedGrid, TestMetrics, type EpochMetric } from '../components/RunViews.tsx';
import { duration, num, pct, short, useLoad, useTitle, when } from '../util.ts';

const ACTIVE = ['queued', 'running'];
const RUNS = ['train', 'fine-tune'];

export function JobPage() {
  const { params } = useRoute();
  const id = params.id!;
  useTitle(`Job ${short(id)}`);
  const job = useLoad(() => call(api.GET('/v1/jobs/{id}', { params: { path: { id } } })), [id], 3000, (j) => !!j && ACTIVE.includes(j.status));
  const [metrics, setMetrics] = useState<EpochMetric[]>([]);
  const [error, setError] = useState<string | null>(null);
  const type = job.data?.type;
  const active = job.data ? ACTIVE.includes(job.data.status) : false;

  useEffect(() => {
    if (!type || !RUNS.includes(type)) return;
    void call(api.GET('/v1/jobs/{id}/metrics', { params: { path: { id } } })).then((m) => setMetrics(m.items as EpochMetric[]), () => {});
  }, [id, type, job.data?.status]);

  // Live updates: progress, per-epoch metrics and status changes pushed by the API.
  useEffect(() => {
    if (!active) return;
    const abort = new AbortController();
    void (async () => {
      try {
        for await (const ev of streamEvents(api, id, { signal: abort.signal })) {
          if (ev.event === 'progress') job.set((old) => ({ ...(old as Job), progress: ev.data }));
          else if (ev.event === 'metric') setMetrics((ms) => [...ms.filter((m) => m.epoch !== ev.data.epoch), ev.data].sort((a, b) => a.epoch - b.epoch));
          else if (ev.event === 'status' && ev.data?.id) job.set(ev.data);
          else if (ev.event === 'end') job.reload();
        }
      } catch {
        // the poll keeps the page current
      }
    })();
    return () => abort.abort();
  }, [id, active]);

  const cancel = async () => {
    try {
      job.set(await call(api.POST('/v1/jobs/{id}/cancel', { params: { path: { id } } })));
    } catch (err) {
      setError(errorText(err));
    }
  };

  const j = job.data;
  if (!j) {
    return (
      <main id="main" class="page">
        <h1>Job {short(id)}</h1>
        <ErrorBox error={job.error} />
        {!job.error && <p>Loading…</p>}
      </main>
    );
  }
  const progress = j.progress as Record<string, any> | null;
  const result = j.result as Record<string, any> | null;
  return (
    <main id="main" class="page">
      <div class="title-row">
        <h1>
          {j.type} <span class="mono">{short(j.id)}</span> <Badge status={j.status} />
        </h1>
        {ACTIVE.includes(j.status) && (
          <RoleButton needs="submit" class="secondary" onClick={cancel}>
            Cancel job
          </RoleButton>
        )}
      </div>
      <ErrorBox error={error ?? job.error} />
      <section class="card" aria-label="Progress">
        <Progress progress={progress as any} status={j.status} />
        <KV
          items={[
            ['id', <span class="mono">{j.id}</span>],
            ['created', when(j.createdAt)],
            ['started', when(j.startedAt)],
            ['finished', when(j.finishedAt)],
            ...(progress?.samplesPerSec ? ([['samples/s', Math.round(progress.samplesPerSec).toLocaleString()]] as [string, string][]) : []),
            ...(j.status === 'running' && progress?.etaSeconds != null ? ([['ETA', duration(progress.etaSeconds)]] as [string, string][]) : []),
            ...(progress?.stage ? ([['stage', progress.stage]] as [string, string][]) : []),
            ...(progress?.trials
              ? ([['trials done', `${progress.done ?? 0} of ${progress.trials}${progress.running ? `, ${progress.running} running` : ''}${progress.failed ? `, ${progress.failed} failed` : ''}`]] as [string, string][])
              : []),
            ...((j as any).parentId ? ([['sweep', <a href={`/ui/jobs/${(j as any).parentId}`}>{short((j as any).parentId)}</a>]] as [string, any][]) : []),
          ]}
        />
        {j.error && (
          <p class="error" role="alert">
            {j.error.code}: {j.error.message}
          </p>
        )}
      </section>
      {RUNS.includes(j.type) && (
        <Section title="Training curves">
          <Curves metrics={metrics} />
        </Section>
      )}
      {RUNS.includes(j.type) && result?.test && <RunResult job={j} result={result} />}
      {j.type === 'dataset-prep' && result && <PrepResult result={result} />}
      {j.type === 'predict' && j.status === 'succeeded' && <PredictResult job={j} result={result} />}
      {(j.type as string) === 'sweep' && <SweepView job={j} />}
      <div class="grid-2">
        <Section title="Parameters">
          <Json value={j.params} />
        </Section>
        <History job={j} />
      </div>
    </main>
  );
}

function History({ job }: { job: Job }) {
  // Newer APIs keep every transition (issue 11); older ones only have the three timestamps.
  const history = ((job as any).history as { status: string; at: string; reason?: string }[] | undefined) ?? [
    { status: 'queued', at: job.createdAt },
    ...(job.startedAt ? [{ status: 'running', at: job.startedAt }] : []),
    ...(job.finishedAt ? [{ status: job.status, at: job.finishedAt }] : []),
  ];
  return (
    <Section title="Status history">
      <ol class="history">
        {history.map((h, i) => (
          <li key={i}>
            <Badge status={h.status} /> <time dateTime={h.at}>{when(h.at)}</time>
            {h.reason && <span class="note"> — {h.reason}</span>}
          </li>
        ))}
      </ol>
    </Section>
  );
}

function RunResult({ job, result }: { job: Job; result: Record<string, any> }) {
  const test = result.after ?? result.test;
  return (
    <>
      <Section title="Result">
        <KV
          items={[
            ['model', <a href={`/ui/models/${result.modelId}`}>{short(result.modelId)}</a>],
            ['epochs run', `${result.epochsRun}${result.stoppedEarly ? ' (stopped early)' : ''}`],
            ['training samples/s', Math.round(result.trainSamplesPerSec ?? 0).toLocaleString()],
            ['time', duration(result.seconds)],
            ['backend', result.backend],
            ...(result.delta ? ([['accuracy vs base model', `${result.delta.accuracy >= 0 ? '+' : ''}${(result.delta.accuracy * 100).toFixed(2)} points`]] as [string, string][]) : []),
          ]}
        />
        <p>
          <a href={`/ui/compare?ids=${job.id}`}>Compare with other runs</a>
        </p>
      </Section>
      <TestMetrics test={test} />
      <MisclassifiedGrid modelId={result.modelId} />
    </>
  );
}

function PrepResult({ result }: { result: Record<string, any> }) {
  return (
    <Section title="Dataset">
      <KV
        items={[
          ['dataset', <a href={`/ui/datasets/${result.datasetId}`}>{short(result.datasetId)}</a>],
          ...Object.entries(result.counts ?? {}).map(([k, v]) => [`${k} images`, (v as number).toLocaleString()] as [string, string]),
          ['pixel mean / std', `${num(result.pixelMean)} / ${num(result.pixelStd)}`],
          ['time', duration(result.seconds)],
        ]}
      />
    </Section>
  );
}

function PredictResult({ job, result }: { job: Job; result: Record<string, any> | null }) {
  const sample = useLoad(async () => {
    const res = await fetch(`/v1/jobs/${job.id}/predictions`, { headers: api.headers() });
    if (!res.ok) throw new Error(`predictions: HTTP ${res.status}`);
    const text = await res.text();
    return text
      .split('\n')
      .filter(Boolean)
      .slice(0, 20)
      .map((l) => JSON.parse(l) as { index: number; class: number; label?: number; probabilities: number[]; confidence?: number });
  }, [job.id]);
  return (
    <Section title="Predictions">
      <KV
        items={[
          ['model', <a href={`/ui/models/${result?.modelId}`}>{short(result?.modelId ?? '')}</a>],
          ['inputs', result?.count?.toLocaleString()],
          ...(result?.accuracy != null ? ([['accuracy', <strong>{pct(result.accuracy, 2)}</strong>]] as [string, any][]) : []),
        ]}
      />
      {result?.confusionMatrix && <ConfusionMatrix matrix={result.confusionMatrix} />}
      <h3>First predictions</h3>
      <ErrorBox error={sample.error} />
      <table class="list num" aria-label="A sample of the predictions">
        <thead>
          <tr>
            <th scope="col">#</th>
            <th scope="col">class</th>
            <th scope="col">probability</th>
            <th scope="col">label</th>
          </tr>
        </thead>
        <tbody>
          {(sample.data ?? []).map((p) => (
            <tr key={p.index} class={p.label != null && p.label !== p.class ? 'wrong' : ''}>
              <td>{p.index}</td>
              <td>{p.class}</td>
              <td>{pct(p.confidence ?? p.probabilities[p.class], 1)}</td>
              <td>{p.label ?? '–'}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Section>
  );
}

/** A sweep's trials: from its result's leaderboard when finished, else from its child jobs. */
function SweepView({ job }: { job: Job }) {
  const result = job.result as { leaderboard?: any[]; best?: any } | null;
  const trials = useLoad(
    async () => {
      if (result?.leaderboard) return result.leaderboard;
      const res = await fetch(`/v1/jobs/${job.id}/trials`, { headers: api.headers() });
      if (res.ok) {
        const body = await res.json();
        return (body.items ?? body) as any[];
      }
      const page = await call(api.GET('/v1/jobs', { params: { query: { parentId: job.id, limit: 100 } as never } }));
      return page.items.map((t) => ({ trialId: t.id, status: t.status, params: t.params, objective: (t.result as any)?.test?.accuracy }));
    },
    [job.id, job.status],
    ACTIVE.includes(job.status) ? 4000 : 0,
  );
  const rows = trials.data ?? [];
  // Dimensions: the numeric searched parameters (flattened), then the objective.
  const flat = rows.map((r) => flatten(r.params?.params ?? r.params ?? {}));
  const keys = [...new Set(flat.flatMap((f) => Object.keys(f)))].filter((k) => {
    const vals = flat.map((f) => f[k]);
    return vals.every((v) => typeof v === 'number' || v === undefined) && new Set(vals).size > 1;
  });
  // The objective is a per-epoch metric (valAccuracy by default): named as such.
  const metric = ((job.params as { objective?: { metric?: string } }).objective?.metric ?? 'objective') as string;
  const dims = [...keys, metric];
  const objective = (r: any) => (typeof r.objective === 'number' ? r.objective : r.objective?.value ?? r.metric ?? null);
  return (
    <Section title="Sweep trials">
      <ErrorBox error={trials.error} />
      {result?.best && (
        <p>
          Best: trial <a href={`/ui/jobs/${result.best.trialId ?? result.best.id}`}>{short(String(result.best.trialId ?? result.best.id ?? ''))}</a>, {metric}{' '}
          <strong>{num(objective(result.best))}</strong>
          {result.best.modelId && (
            <>
              {' '}
              — model <a href={`/ui/models/${result.best.modelId}`}>{short(result.best.modelId)}</a>
            </>
          )}
        </p>
      )}
      {rows.length > 1 && dims.length > 1 && <ParallelCoordinates title="Parallel coordinates" dims={dims} rows={rows.map((r, i) => [...keys.map((k) => (flat[i]![k] as number) ?? null), objective(r)])} />}
      <div class="scroll-x">
        <table class="list num" aria-label="Leaderboard">
          <thead>
            <tr>
              <th scope="col">rank</th>
              <th scope="col">trial</th>
              <th scope="col">status</th>
              {keys.map((k) => (
                <th scope="col" key={k}>
                  {k}
                </th>
              ))}
              <th scope="col">{metric}</th>
              <th scope="col">epochs</th>
              <th scope="col">test accuracy</th>
            </tr>
          </thead>
          <tbody>
            {rows.map((r, i) => {
              const tid = r.trialId ?? r.id ?? r.jobId;
              return (
                <tr key={tid ?? i}>
                  <td>{i + 1}</td>
                  <td>{tid ? <a href={`/ui/jobs/${tid}`}>{short(String(tid))}</a> : '–'}</td>
                  <td>{r.status ? <Badge status={r.stoppedEarly ? 'stopped' : r.status} /> : '–'}</td>
                  {keys.map((k) => (
                    <td key={k}>{sig(flat[i]![k] as number)}</td>
                  ))}
                  <td>{num(objective(r))}</td>
                  <td>{r.epochsRun ?? '–'}</td>
                  <td>{pct(r.testAccuracy, 2)}</td>
                </tr>
              );
            })}
          </tbody>
        </table>
      </div>
      {rows.length > 1 && (
        <p>
          <a href={`/ui/compare?ids=${rows.map((r) => r.trialId ?? r.id ?? r.jobId).filter(Boolean).join(',')}`}>Compare the trials' curves</a>
        </p>
      )}
    </Section>
  );
}

/** Searched values to 3 significant digits: a log-uniform learning rate such as 0.000347 keeps its digits. */
const sig = (v: number | null | undefined) => (v == null ? '–' : String(Number(v.toPrecision(3))));

function flatten(o: Record<string, unknown>, prefix = ''): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(o)) {
    if (v && typeof v === 'object' && !Array.isArray(v)) Object.assign(out, flatten(v as Record<string, unknown>, `${prefix}${k}.`));
    else out[`${prefix}${k}`] = v;
  }
  return out;
}
