// The new-job forms: dataset-prep, train, fine-tune and (where the API offers it) sweep.
import { cloneElement, type VNode } from 'preact';
import { useId, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, allowed, call, datasetCounts, errorText, jobTypes, modelMetrics, type Dataset, type Model } from '../api.ts';
import { short, useLoad } from '../util.ts';
import { ErrorBox } from './ui.tsx';
import { ARCHITECTURES, DEFAULT_ARCHITECTURE } from '../../../src/ml/catalog.ts';
import { FINE_TUNE_DEFAULTS, TRAIN_DEFAULTS, type TrainingDefaults } from '../../../src/jobs/defaults.ts';

type Kind = 'dataset-prep' | 'train' | 'fine-tune' | 'sweep';
const KINDS: [Kind, string][] = [
  ['dataset-prep', 'Prepare a dataset'],
  ['train', 'Train'],
  ['fine-tune', 'Fine-tune'],
  ['sweep', 'Sweep'],
];

const optNum = (s: string) => (s.trim() === '' ? undefined : Number(s));
function clean<T extends object>(o: T): T {
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined || (typeof v === 'number' && Number.isNaN(v))) delete (o as Record<string, unknown>)[k];
    else if (v && typeof v === 'object' && !Array.isArray(v)) {
      clean(v);
      if (Object.keys(v).length === 0) delete (o as Record<string, unknown>)[k];
    }
  }
  return o;
}

export function NewJob() {
  const offered = (k: Kind) => jobTypes.value.includes(k);
  const [kind, setKind] = useState<Kind>('dataset-prep');
  const [error, setError] = useState<string | null>(null);
  const [busy, setBusy] = useState(false);
  const { route } = useLocation();
  const datasets = useLoad(() => call(api.GET('/v1/datasets', { params: { query: { limit: 100 } } })), []);
  const models = useLoad(() => call(api.GET('/v1/models', { params: { query: { limit: 100 } } })), []);
  const mayRun = allowed('submit');

  const submit = async (type: string, params: unknown) => {
    setBusy(true);
    setError(null);
    try {
      const job = await call(api.POST('/v1/jobs', { body: { type, params } as never }));
      route(`/ui/jobs/${(job as { id: string }).id}`);
    } catch (err) {
      setError(errorText(err));
    } finally {
      setBusy(false);
    }
  };

  return (
    <section class="card" aria-labelledby="new-job">
      <h2 id="new-job">New job</h2>
      <div class="tabs" role="tablist" aria-label="Job type">
        {KINDS.map(([k, label]) => (
          <button
            key={k}
            role="tab"
            id={`tab-${k}`}
            aria-selected={kind === k}
            aria-controls="job-form"
            class={kind === k ? 'tab active' : 'tab'}
            disabled={!offered(k)}
            title={offered(k) ? undefined : `This API does not offer ${k} jobs`}
            onClick={() => setKind(k)}
          >
            {label}
          </button>
        ))}
      </div>
      <div id="job-form" role="tabpanel" aria-labelledby={`tab-${kind}`}>
        {!mayRun && <p class="note">Your key's role may not submit jobs.</p>}
        {kind === 'dataset-prep' && <PrepForm onSubmit={submit} busy={busy || !mayRun} />}
        {kind === 'train' && <TrainForm onSubmit={submit} busy={busy || !mayRun} datasets={datasets.data?.items ?? []} />}
        {kind === 'fine-tune' && <FineTuneForm onSubmit={submit} busy={busy || !mayRun} datasets={datasets.data?.items ?? []} models={models.data?.items ?? []} />}
        {kind === 'sweep' && <SweepForm onSubmit={submit} busy={busy || !mayRun} datasets={datasets.data?.items ?? []} />}
      </div>
      <ErrorBox error={error} />
    </section>
  );
}

type Submit = (type: string, params: unknown) => void;
const datasetLabel = (d: Dataset) => `${d.name ?? short(d.id)} · ${datasetCounts(d)?.train ?? '?'} train · ${new Date(d.createdAt).toLocaleDateString()}`;

/** A labelled control: the label names only the control (not its options), the hint describes it. */
function Field({ label, children, hint }: { label: string; children: VNode<any> | VNode<any>[]; hint?: string }) {
  const id = useId();
  const [control, ...rest] = Array.isArray(children) ? children : [children];
  return (
    <div class="field">
      <label for={id}>{label}</label>
      {cloneElement(control!, { id, 'aria-describedby': hint ? `${id}-hint` : undefined })}
      {rest}
      {hint && <small id={`${id}-hint`}>{hint}</small>}
    </div>
  );
}

function PrepForm({ onSubmit, busy }: { onSubmit: Submit; busy: boolean }) {
  const [source, setSource] = useState('mnist');
  const [url, setUrl] = useState('');
  const [split, setSplit] = useState('standard');
  const [ratios, setRatios] = useState({ train: '0.8', val: '0.1', test: '0.1' });
  const [valFraction, setValFraction] = useState('0.1');
  const [normalize, setNormalize] = useState('zero-one');
  const [augment, setAugment] = useState(false);
  const [aug, setAug] = useState({ copies: '1', rotationDeg: '10', shiftPx: '2', noiseStd: '0' });
  const [name, setName] = useState('');
  const send = (e: Event) => {
    e.preventDefault();
    onSubmit(
      'dataset-prep',
      clean({
        source: source === 'url' ? { url } : source,
        split: split === 'standard' ? 'standard' : { train: Number(ratios.train), val: Number(ratios.val), test: Number(ratios.test) },
        valFraction: split === 'standard' ? Number(valFraction) : undefined,
        normalize,
        augment: augment ? { copies: Number(aug.copies), rotationDeg: Number(aug.rotationDeg), shiftPx: Number(aug.shiftPx), noiseStd: Number(aug.noiseStd) } : undefined,
        name: name.trim() || undefined,
      }),
    );
  };
  return (
    <form class="form" onSubmit={send} aria-label="Prepare a dataset">
      <Field label="Source">
        <select name="source" value={source} onChange={(e) => setSource(e.currentTarget.value)}>
          <option value="mnist">MNIST</option>
          <option value="fashion-mnist">Fashion-MNIST</option>
          <option value="url">URL of IDX files</option>
        </select>
      </Field>
      {source === 'url' && (
        <Field label="Folder URL" hint="holding the four IDX .gz files">
          <input type="url" required value={url} onInput={(e) => setUrl(e.currentTarget.value)} />
        </Field>
      )}
      <Field label="Split">
        <select name="split" value={split} onChange={(e) => setSplit(e.currentTarget.value)}>
          <option value="standard">standard (official test set)</option>
          <option value="ratios">ratios</option>
        </select>
      </Field>
      {split === 'standard' ? (
        <Field label="Validation fraction">
          <input type="number" step="0.01" min="0.01" max="0.5" value={valFraction} onInput={(e) => setValFraction(e.currentTarget.value)} />
        </Field>
      ) : (
        (['train', 'val', 'test'] as const).map((k) => (
          <Field key={k} label={`${k} ratio`}>
            <input type="number" step="0.01" min="0" max="1" value={ratios[k]} onInput={(e) => setRatios({ ...ratios, [k]: e.currentTarget.value })} />
          </Field>
        ))
      )}
      <Field label="Normalization">
        <select name="normalize" value={normalize} onChange={(e) => setNormalize(e.currentTarget.value)}>
          <option value="zero-one">zero-one</option>
          <option value="minus-one-one">minus-one-one</option>
          <option value="standardize">standardize</option>
        </select>
      </Field>
      <label class="check">
        <input type="checkbox" checked={augment} onChange={(e) => setAugment(e.currentTarget.checked)} /> Augment the training split
      </label>
      {augment &&
        (
          [
            ['copies', 'Extra copies', '1'],
            ['rotationDeg', 'Rotation (°)', '1'],
            ['shiftPx', 'Shift (px)', '0.5'],
            ['noiseStd', 'Noise std', '0.01'],
          ] as const
        ).map(([k, label, step]) => (
          <Field key={k} label={label}>
            <input type="number" step={step} min="0" value={aug[k]} onInput={(e) => setAug({ ...aug, [k]: e.currentTarget.value })} />
          </Field>
        ))}
      <Field label="Name (optional)">
        <input name="name" value={name} maxLength={200} onInput={(e) => setName(e.currentTarget.value)} />
      </Field>
      <button type="submit" disabled={busy}>
        Prepare dataset
      </button>
    </form>
  );
}

/** The fields a train and a fine-tune form share: optimizer and learning rate, epochs, batch size, schedule, subsets, early stopping. */
function TrainingFields({ s, set }: { s: Record<string, string>; set: (k: string, v: string) => void }) {
  return (
    <>
      <Field label="Optimizer">
        <select name="optimizer" value={s.optimizer} onChange={(e) => set('optimizer', e.currentTarget.value)}>
          <option>adam</option>
          <option>momentum</option>
          <option>sgd</option>
        </select>
      </Field>
      <Field label="Learning rate">
        <input name="learningRate" type="number" step="any" min="0" value={s.learningRate} onInput={(e) => set('learningRate', e.currentTarget.value)} />
      </Field>
      <Field label="Epochs">
        <input name="epochs" type="number" min="1" max="500" value={s.epochs} onInput={(e) => set('epochs', e.currentTarget.value)} />
      </Field>
      <Field label="Batch size">
        <input name="batchSize" type="number" min="1" max="4096" value={s.batchSize} onInput={(e) => set('batchSize', e.currentTarget.value)} />
      </Field>
      <Field label="Schedule">
        <select name="schedule" value={s.schedule} onChange={(e) => set('schedule', e.currentTarget.value)}>
          <option value="cosine">cosine decay</option>
          <option value="step">step decay</option>
          <option value="constant">constant</option>
        </select>
      </Field>
      <Field label="Train subset (optional)" hint="first N training samples">
        <input name="subsetTrain" type="number" min="1" value={s.subsetTrain} onInput={(e) => set('subsetTrain', e.currentTarget.value)} />
      </Field>
      <Field label="Test subset (optional)">
        <input name="subsetTest" type="number" min="1" value={s.subsetTest} onInput={(e) => set('subsetTest', e.currentTarget.value)} />
      </Field>
      <label class="check">
        <input type="checkbox" checked={s.early === '1'} onChange={(e) => set('early', e.currentTarget.checked ? '1' : '')} /> Early stopping on validation loss
      </label>
    </>
  );
}
/** A form's starting values: the job's own defaults. */
const trainingFields = (d: TrainingDefaults) => ({
  optimizer: d.optimizer,
  learningRate: String(d.learningRate),
  epochs: String(d.epochs),
  batchSize: String(d.batchSize),
  schedule: d.schedule,
  subsetTrain: '',
  subsetTest: '',
  early: '',
});
const trainingParams = (s: Record<string, string>) => ({
  optimizer: { type: s.optimizer, learningRate: Number(s.learningRate) },
  epochs: Number(s.epochs),
  batchSize: Number(s.batchSize),
  schedule: { type: s.schedule },
  subset: { train: optNum(s.subsetTrain ?? ''), test: optNum(s.subsetTest ?? '') },
  earlyStopping: s.early ? {} : undefined,
});

function useFields(init: Record<string, string>) {
  const [s, setS] = useState(init);
  return [s, (k: string, v: string) => setS((old) => ({ ...old, [k]: v }))] as const;
}

function DatasetSelect({ datasets, value, onChange }: { datasets: Dataset[]; value: string; onChange: (v: string) => void }) {
  return (
    <Field label="Dataset">
      <select name="datasetId" required value={value} onChange={(e) => onChange(e.currentTarget.value)}>
        <option value="">{datasets.length ? 'choose a dataset' : 'no dataset yet: prepare one first'}</option>
        {datasets.map((d) => (
          <option key={d.id} value={d.id}>
            {datasetLabel(d)}
          </option>
        ))}
      </select>
    </Field>
  );
}

function TrainForm({ onSubmit, busy, datasets }: { onSubmit: Submit; busy: boolean; datasets: Dataset[] }) {
  const [s, set] = useFields({ datasetId: '', architecture: DEFAULT_ARCHITECTURE, ...trainingFields(TRAIN_DEFAULTS) });
  const datasetId = s.datasetId || datasets[0]?.id || '';
  const send = (e: Event) => {
    e.preventDefault();
    onSubmit('train', clean({ datasetId, architecture: s.architecture, ...trainingParams(s) }));
  };
  return (
    <form class="form" onSubmit={send} aria-label="Train a model">
      <DatasetSelect datasets={datasets} value={datasetId} onChange={(v) => set('datasetId', v)} />
      <Field label="Architecture">
        <select name="architecture" value={s.architecture} onChange={(e) => set('architecture', e.currentTarget.value)}>
          {ARCHITECTURES.map((a) => (
            <option key={a}>{a}</option>
          ))}
        </select>
      </Field>
      <TrainingFields s={s} set={set} />
      <button type="submit" disabled={busy || !datasetId}>
        Start training
      </button>
    </form>
  );
}

function FineTuneForm({ onSubmit, busy, datasets, models }: { onSubmit: Submit; busy: boolean; datasets: Dataset[]; models: Model[] }) {
  const [s, set] = useFields({ baseModelId: '', datasetId: '', freeze: FINE_TUNE_DEFAULTS.freeze, l2sp: String(FINE_TUNE_DEFAULTS.l2sp), ...trainingFields(FINE_TUNE_DEFAULTS) });
  const datasetId = s.datasetId || datasets[0]?.id || '';
  const baseModelId = s.baseModelId || models[0]?.id || '';
  const send = (e: Event) => {
    e.preventDefault();
    const freeze = /^\d+$/.test(s.freeze!) ? Number(s.freeze) : s.freeze;
    onSubmit('fine-tune', clean({ baseModelId, datasetId, freeze, l2sp: Number(s.l2sp), ...trainingParams(s) }));
  };
  return (
    <form class="form" onSubmit={send} aria-label="Fine-tune a model">
      <Field label="Base model">
        <select name="baseModelId" required value={baseModelId} onChange={(e) => set('baseModelId', e.currentTarget.value)}>
          <option value="">{models.length ? 'choose a model' : 'no model yet: train one first'}</option>
          {models.map((m) => (
            <option key={m.id} value={m.id}>
              {short(m.id)} · {m.architecture} · {pctOf(m)}
            </option>
          ))}
        </select>
      </Field>
      <DatasetSelect datasets={datasets} value={datasetId} onChange={(v) => set('datasetId', v)} />
      <Field label="Freeze" hint="all-but-head, none, or a number of leading layers">
        <input name="freeze" list="freeze-options" value={s.freeze} onInput={(e) => set('freeze', e.currentTarget.value)} />
        <datalist id="freeze-options">
          <option value="all-but-head" />
          <option value="none" />
        </datalist>
      </Field>
      <Field label="L2-SP λ" hint="pull towards the base weights">
        <input name="l2sp" type="number" step="any" min="0" value={s.l2sp} onInput={(e) => set('l2sp', e.currentTarget.value)} />
      </Field>
      <TrainingFields s={s} set={set} />
      <button type="submit" disabled={busy || !datasetId || !baseModelId}>
        Start fine-tune
      </button>
    </form>
  );
}
const pctOf = (m: Model) => {
  const a = modelMetrics(m)?.test?.accuracy;
  return a == null ? 'no test metrics' : `${(a * 100).toFixed(2)} %`;
};

function SweepForm({ onSubmit, busy, datasets }: { onSubmit: Submit; busy: boolean; datasets: Dataset[] }) {
  const example = (id: string) =>
    JSON.stringify(
      {
        trial: { type: 'train', params: { datasetId: id || '<dataset id>', architecture: 'mlp', epochs: 3, subset: { train: 5000 } } },
        space: { 'optimizer.learningRate': { logUniform: [0.0003, 0.01] }, batchSize: { choice: [32, 64, 128] } },
        algorithm: 'random',
        maxTrials: 6,
        maxParallel: 2,
        objective: { metric: 'valAccuracy', goal: 'maximize' },
        earlyStopping: { type: 'asha', gracePeriod: 1, reductionFactor: 3 },
      },
      null,
      2,
    );
  const [text, setText] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const value = text ?? example(datasets[0]?.id ?? '');
  const send = (e: Event) => {
    e.preventDefault();
    try {
      onSubmit('sweep', JSON.parse(value));
      setError(null);
    } catch (err) {
      setError(`Not JSON: ${(err as Error).message}`);
    }
  };
  return (
    <form class="form wide" onSubmit={send} aria-label="Start a sweep">
      <Field label="Sweep parameters (JSON)" hint="trial, space, objective, maxTrials, maxParallel, … (see /docs)">
        <textarea name="sweep" rows={14} spellcheck={false} value={value} onInput={(e) => setText(e.currentTarget.value)} />
      </Field>
      <ErrorBox error={error} />
      <button type="submit" disabled={busy}>
        Start sweep
      </button>
    </form>
  );
}
