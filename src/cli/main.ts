// `mnist-jobs`: the command line of the service, on the typed client (src/client).
//   MNIST_JOBS_URL (default http://localhost:3000), MNIST_JOBS_API_KEY; --json on every command.
// Exit status: 0 done, 1 an API error or a job that did not succeed, 2 a usage error.
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { Command, InvalidArgumentError, Option } from 'commander';
import {
  ApiError,
  createClient,
  datasetCounts,
  datasetSourceName,
  datasetStats,
  modelMetrics,
  streamEvents,
  unwrap,
  type ApiClient,
  type ApiKey,
  type Job,
  type JobType,
  type ParamsOf,
} from '../client/index.js';
import { ARCHITECTURES, DEFAULT_ARCHITECTURE } from '../ml/catalog.js';
import { ProgressLine, pct, short, summary, table, type LastMetric, type ProgressState } from './output.js';

const TERMINAL = ['succeeded', 'failed', 'cancelled'];

const program = new Command('mnist-jobs')
  .description('Prepare datasets, train and fine-tune models, and predict with the mnist-jobs service')
  .option('--url <url>', 'API base URL (env MNIST_JOBS_URL)', process.env.MNIST_JOBS_URL ?? 'http://localhost:3000')
  .option('--api-key <key>', 'API key (env MNIST_JOBS_API_KEY)')
  .option('--json', 'print JSON for scripts instead of text')
  .showHelpAfterError()
  .exitOverride((err) => process.exit(err.exitCode === 0 ? 0 : 2));

const globals = () => program.opts<{ url: string; apiKey?: string; json?: boolean }>();
let client: ApiClient | undefined;
const api = () => (client ??= createClient({ baseUrl: globals().url, apiKey: globals().apiKey ?? process.env.MNIST_JOBS_API_KEY }));
const json = () => !!globals().json;
const print = (text: string, data: unknown) => console.log(json() ? JSON.stringify(data, null, 2) : text);

const int = (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError('expected an integer');
  return n;
};
const float = (v: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new InvalidArgumentError('expected a number');
  return n;
};
const jsonArg = (v: string) => {
  try {
    return JSON.parse(v);
  } catch {
    throw new InvalidArgumentError('expected JSON');
  }
};

/** Drops undefined values and empty objects, so the API's defaults apply. */
function clean(o: Record<string, unknown>): Record<string, unknown> {
  for (const [k, v] of Object.entries(o)) {
    if (v === undefined) delete o[k];
    else if (v && typeof v === 'object' && !Array.isArray(v)) {
      clean(v as Record<string, unknown>);
      if (Object.keys(v).length === 0) delete o[k];
    }
  }
  return o;
}

// ---- jobs: submit and follow ---------------------------------------------------------------------

async function submitJob(type: JobType, params: Record<string, unknown>, opts: { follow?: boolean; params?: object; idempotencyKey?: string }) {
  const body = { type, params: { ...clean(params), ...(opts.params ?? {}) }, ...(opts.idempotencyKey ? { idempotencyKey: opts.idempotencyKey } : {}) };
  const job = await unwrap(api().POST('/v1/jobs', { body: body as never }));
  if (!opts.follow) return print(`${job.type} job ${job.id} ${job.status}`, job);
  if (!json()) console.error(`${job.type} job ${job.id} queued`);
  await follow(job.id);
}

/** Shows the job's progress until it ends, prints its result; a job that did not succeed exits 1. */
async function follow(id: string) {
  const bar = new ProgressLine();
  let job = await unwrap(api().GET('/v1/jobs/{id}', { params: { path: { id } } }));
  let metric: LastMetric | undefined;
  let progress: ProgressState = job.progress ?? {};
  if (!json()) bar.update(progress, metric, job.status);
  if (!TERMINAL.includes(job.status)) {
    try {
      for await (const ev of streamEvents(api(), id)) {
        if (ev.event === 'progress') progress = { ...progress, ...ev.data };
        else if (ev.event === 'metric') metric = ev.data;
        else if (ev.event === 'status' && ev.data?.id) job = ev.data;
        if (!json()) bar.update(progress, metric, job.status);
      }
    } catch (err) {
      if (err instanceof ApiError) throw err;
      // The stream dropped for good: poll until the job ends.
      while (!TERMINAL.includes(job.status)) {
        await new Promise((r) => setTimeout(r, 1000));
        job = await unwrap(api().GET('/v1/jobs/{id}', { params: { path: { id } } }));
        if (!json()) bar.update(job.progress ?? {}, metric, job.status);
      }
    }
    job = await unwrap(api().GET('/v1/jobs/{id}', { params: { path: { id } } }));
  }
  if (!json()) {
    bar.update({ ...progress, ...job.progress }, metric, job.status);
    bar.done();
  }
  print(summary(job), job);
  if (job.status !== 'succeeded') process.exitCode = 1;
}

const followOpts = (c: Command) =>
  c
    .option('-f, --follow', 'show progress until the job ends, then its result')
    .option('--params <json>', 'more parameters as JSON, merged over the options', jsonArg)
    .option('--idempotency-key <key>', 'resubmitting with the same key returns the first job');

const trainingOpts = (c: Command) =>
  c
    .option('--epochs <n>', 'epochs', int)
    .option('--batch-size <n>', 'batch size', int)
    .addOption(new Option('--schedule <type>', 'learning-rate schedule').choices(['cosine', 'step', 'constant']))
    .option('--subset-train <n>', 'use only the first N training samples', int)
    .option('--subset-test <n>', 'evaluate on the first N test samples', int)
    .option('--early-stopping', 'stop when validation loss stops improving')
    .option('--seed <n>', 'seed', int);
/** The options of trainingOpts, as commander parses them. */
interface TrainingOptions {
  epochs?: number;
  batchSize?: number;
  schedule?: ParamsOf<'train'>['schedule']['type'];
  subsetTrain?: number;
  subsetTest?: number;
  earlyStopping?: boolean;
  seed?: number;
}
const trainingParams = (o: TrainingOptions) => ({
  epochs: o.epochs,
  batchSize: o.batchSize,
  schedule: o.schedule ? { type: o.schedule } : undefined,
  subset: { train: o.subsetTrain, test: o.subsetTest },
  earlyStopping: o.earlyStopping ? {} : undefined,
  seed: o.seed,
});

/** `{type, learningRate}` when either option is given (the API's defaults otherwise: adam at the job type's rate). */
const optimizer = (o: { optimizer?: string; lr?: number }, defaultRate: number) =>
  o.optimizer || o.lr ? { type: o.optimizer ?? 'adam', learningRate: o.lr ?? defaultRate } : undefined;

followOpts(
  program
    .command('prep')
    .description('prepare a dataset (dataset-prep job)')
    .option('--source <source>', 'mnist, fashion-mnist, or the URL of a folder of IDX .gz files', 'mnist')
    .option('--split <split>', '"standard" or train,val,test ratios such as 0.8,0.1,0.1', 'standard')
    .option('--val-fraction <f>', 'with split standard: share of train held out for validation', float)
    .addOption(new Option('--normalize <kind>', 'pixel normalization').choices(['zero-one', 'minus-one-one', 'standardize']))
    .option('--augment-copies <n>', 'extra augmented copies of each training image', int)
    .option('--name <name>', 'a name for the dataset')
    .option('--seed <n>', 'seed', int),
).action((o) => {
  const split = o.split === 'standard' ? 'standard' : ratios(o.split);
  const source = /^https?:\/\//.test(o.source) ? { url: o.source } : o.source;
  return submitJob(
    'dataset-prep',
    {
      source,
      split,
      valFraction: o.valFraction,
      normalize: o.normalize,
      augment: o.augmentCopies ? { copies: o.augmentCopies } : undefined,
      name: o.name,
      seed: o.seed,
    },
    o,
  );
});
function ratios(s: string) {
  const [train, val, test] = s.split(',').map(Number);
  if ([train, val, test].some((v) => v === undefined || !Number.isFinite(v))) throw usage('--split must be "standard" or three ratios such as 0.8,0.1,0.1');
  return { train, val, test };
}

followOpts(
  trainingOpts(
    program
      .command('train')
      .description('train a model on a dataset (train job)')
      .requiredOption('-d, --dataset <id>', 'dataset id (the dataset-prep job id)')
      .addOption(new Option('-a, --arch <architecture>', `architecture (default ${DEFAULT_ARCHITECTURE})`).choices(ARCHITECTURES))
      .addOption(new Option('--optimizer <type>', 'optimizer').choices(['adam', 'momentum', 'sgd']))
      .option('--lr <rate>', 'learning rate', float),
  ),
).action((o) =>
  submitJob(
    'train',
    {
      datasetId: o.dataset,
      architecture: o.arch,
      optimizer: optimizer(o, 0.002),
      ...trainingParams(o),
    },
    o,
  ),
);

followOpts(
  trainingOpts(
    program
      .command('fine-tune')
      .description('fine-tune a model on another dataset (fine-tune job)')
      .requiredOption('-b, --base <model>', 'base model id')
      .requiredOption('-d, --dataset <id>', 'dataset id')
      .option('--freeze <n|all-but-head|none>', 'leading layers to freeze')
      .option('--l2sp <lambda>', 'L2-SP penalty towards the base weights', float)
      .option('--lr <rate>', 'learning rate', float)
      .addOption(new Option('--optimizer <type>', 'optimizer').choices(['adam', 'momentum', 'sgd'])),
  ),
).action((o) =>
  submitJob(
    'fine-tune',
    {
      baseModelId: o.base,
      datasetId: o.dataset,
      freeze: o.freeze && /^\d+$/.test(o.freeze) ? Number(o.freeze) : o.freeze,
      l2sp: o.l2sp,
      optimizer: optimizer(o, 0.002),
      ...trainingParams(o),
    },
    o,
  ),
);

followOpts(
  program
    .command('sweep')
    .description('run a hyper-parameter sweep (sweep job); its parameters as a JSON file')
    .argument('<file>', 'JSON file of the sweep parameters (trial, space, …), - for stdin'),
).action(async (file: string, o) => {
  const text = file === '-' ? await readStdin() : await readFile(file, 'utf8');
  let params: Record<string, unknown>;
  try {
    params = JSON.parse(text);
  } catch (err) {
    throw usage(`${file} is not JSON: ${(err as Error).message}`);
  }
  return submitJob('sweep', params, o);
});
async function readStdin() {
  let s = '';
  for await (const chunk of process.stdin) s += chunk;
  return s;
}

// ---- jobs ------------------------------------------------------------------------------------------

const jobs = program.command('jobs').description('list, show, cancel and watch jobs');
jobs
  .command('ls')
  .description('list jobs, newest first')
  .option('--type <type>', 'only this job type')
  .option('--status <status>', 'only this status')
  .option('--parent <id>', 'only the trials of this sweep')
  .option('-n, --limit <n>', 'how many', int, 20)
  .option('--cursor <cursor>', 'the next page (nextCursor of the previous one)')
  .action(async (o) => {
    const page = await unwrap(
      api().GET('/v1/jobs', {
        params: { query: { type: o.type, status: o.status, limit: o.limit, cursor: o.cursor, ...(o.parent ? { parentId: o.parent } : {}) } as never },
      }),
    );
    const rows = page.items.map((j) => [j.id, j.type, j.status, `${Math.round(j.progress?.percent ?? 0)}%`, resultBrief(j), j.createdAt]);
    print(table(['ID', 'TYPE', 'STATUS', 'DONE', 'RESULT', 'CREATED'], rows) + (page.nextCursor ? `\nmore: --cursor ${page.nextCursor}` : ''), page);
  });
/** A job's result in a word: its error code, dataset, or test accuracy. */
function resultBrief(j: Job): string {
  if (j.error) return j.error.code;
  if (j.type === 'dataset-prep' && j.result) return `dataset ${short(j.result.datasetId)}`;
  const test = j.type === 'fine-tune' ? (j.result?.after ?? j.result?.test) : j.type === 'train' ? j.result?.test : null;
  if (test) return `acc ${pct(test.accuracy)}`;
  if (j.type === 'predict' && j.result?.accuracy != null) return `acc ${pct(j.result.accuracy)}`;
  return '';
}
jobs
  .command('get')
  .description('show a job')
  .argument('<id>')
  .action(async (id: string) => {
    const job = await unwrap(api().GET('/v1/jobs/{id}', { params: { path: { id } } }));
    const p = job.progress;
    const text = [
      summary(job),
      p && job.status === 'running' ? new ProgressLine().render(p, undefined, job.status) : null,
      `params ${JSON.stringify(job.params)}`,
      `history ${job.history.map((h) => `${h.status}@${h.at}${h.reason ? ` (${h.reason})` : ''}`).join(' → ')}`,
    ];
    print(text.filter(Boolean).join('\n'), job);
  });
jobs
  .command('cancel')
  .description('cancel a queued or running job')
  .argument('<id>')
  .action(async (id: string) => {
    const job = await unwrap(api().POST('/v1/jobs/{id}/cancel', { params: { path: { id } } }));
    print(`job ${job.id} ${job.status}${job.status === 'running' ? ' (stops at its next batch)' : ''}`, job);
  });
jobs
  .command('watch')
  .description('follow a job: progress, then its result')
  .argument('<id>')
  .action((id: string) => follow(id));

// ---- datasets and models ---------------------------------------------------------------------------

const datasets = program.command('datasets').description('prepared datasets');
datasets
  .command('ls')
  .option('-n, --limit <n>', 'how many', int, 20)
  .action(async (o) => {
    const page = await unwrap(api().GET('/v1/datasets', { params: { query: { limit: o.limit } } }));
    const rows = page.items.map((d) => {
      const counts = datasetCounts(d);
      return [d.id, d.name ?? '', datasetSourceName(d), counts?.train ?? '', counts?.val ?? '', counts?.test ?? '', d.createdAt];
    });
    print(table(['ID', 'NAME', 'SOURCE', 'TRAIN', 'VAL', 'TEST', 'CREATED'], rows), page);
  });
datasets
  .command('get')
  .argument('<id>')
  .action(async (id: string) => {
    const d = await unwrap(api().GET('/v1/datasets/{id}', { params: { path: { id } } }));
    const s = datasetStats(d);
    const lines = [
      `dataset ${d.id}${d.name ? ` (${d.name})` : ''}: ${d.width}×${d.height}, ${d.numClasses} classes`,
      `counts ${JSON.stringify(d.counts)}`,
      s?.blankImages ? `blank images ${JSON.stringify(s.blankImages)}` : null,
      s?.duplicates?.across
        ? `leakage ${Object.entries(s.duplicates.across)
            .map(([k, v]) => `${k} ${v.images}`)
            .join(', ')}`
        : null,
    ];
    print(lines.filter(Boolean).join('\n'), d);
  });

const models = program.command('models').description('the model registry');
models
  .command('ls')
  .option('-n, --limit <n>', 'how many', int, 20)
  .action(async (o) => {
    const page = await unwrap(api().GET('/v1/models', { params: { query: { limit: o.limit } } }));
    const rows = page.items.map((m) => [
      m.id,
      m.architecture,
      pct(modelMetrics(m)?.test?.accuracy),
      m.aliases.join(','),
      short(m.datasetId),
      short(m.parentModelId),
      m.createdAt,
    ]);
    print(table(['ID', 'ARCH', 'TEST ACC', 'ALIASES', 'DATASET', 'BASE', 'CREATED'], rows), page);
  });
models
  .command('get')
  .argument('<id>')
  .action(async (id: string) => {
    const m = await unwrap(api().GET('/v1/models/{id}', { params: { path: { id } } }));
    const t = modelMetrics(m)?.test;
    const lines = [
      `model ${m.id} ${m.architecture}, ${m.numClasses} classes, trained on ${m.backend}`,
      `dataset ${m.datasetId}${m.parentModelId ? `, fine-tuned from ${m.parentModelId}` : ''}`,
      `aliases ${m.aliases.join(', ') || '–'}`,
      t ? `test accuracy ${pct(t.accuracy)} (loss ${t.loss.toFixed(4)}, ${t.count} images)` : null,
    ];
    print(lines.filter(Boolean).join('\n'), m);
  });
models
  .command('alias')
  .description('point an alias (e.g. production) at a model, or remove it with --delete')
  .argument('<alias>')
  .argument('[model]', 'model id')
  .option('--delete', 'remove the alias')
  .action(async (alias: string, model: string | undefined, o) => {
    if (o.delete) {
      await unwrap(api().DELETE('/v1/models/aliases/{alias}', { params: { path: { alias } } }));
      return print(`alias ${alias} removed`, { alias, deleted: true });
    }
    if (!model) throw usage('give the model id, or --delete');
    const res = await unwrap(api().PUT('/v1/models/aliases/{alias}', { params: { path: { alias } }, body: { modelId: model } }));
    print(`${res.alias} → ${res.modelId}`, res);
  });
models
  .command('rm')
  .description('delete a model and its files')
  .argument('<id>')
  .action(async (id: string) => {
    await unwrap(api().DELETE('/v1/models/{id}', { params: { path: { id } } }));
    print(`model ${id} deleted`, { id, deleted: true });
  });

// ---- predict -----------------------------------------------------------------------------------------

program
  .command('predict')
  .description('predict the digit in PNG or JPEG files')
  .argument('<files...>')
  .option('-m, --model <id|alias>', 'model id or alias', 'latest')
  .action(async (files: string[], o) => {
    const inputs = await Promise.all(
      files.map(async (f) => {
        const buf = await readFile(f).catch((err) => Promise.reject(usage(`cannot read ${f}: ${err.code ?? err.message}`)));
        return buf.toString('base64');
      }),
    );
    const res = await unwrap(api().POST('/v1/predict', { body: { model: o.model, inputs } }));
    const preds = res.predictions.map((p, i) => ({ file: files[i], ...p, confidence: p.confidence ?? p.probabilities[p.class] }));
    const lines = preds.map((p) => `${path.basename(p.file!)}: ${p.class} (${pct(p.confidence, 1)}${p.lowConfidence ? ', low confidence' : ''})`);
    print(lines.join('\n'), { modelId: res.modelId, predictions: preds });
  });

// ---- API keys (admin) -------------------------------------------------------------------------------

const ROLES: ApiKey['role'][] = ['read', 'predict', 'submit', 'admin'];
const keys = program.command('keys').description('API keys (admin)');
keys
  .command('ls')
  .option('-n, --limit <n>', 'how many', int, 20)
  .action(async (o) => {
    const page = await unwrap(api().GET('/v1/api-keys', { params: { query: { limit: o.limit } } }));
    print(
      table(
        ['ID', 'NAME', 'ROLE', 'CREATED', 'LAST USED'],
        page.items.map((k) => [k.id, k.name, k.role, k.createdAt, k.lastUsedAt ?? '']),
      ),
      page,
    );
  });
keys
  .command('create')
  .requiredOption('--name <name>', 'what the key is for')
  .addOption(new Option('--role <role>', 'role').choices(ROLES).makeOptionMandatory())
  .action(async (o: { name: string; role: ApiKey['role'] }) => {
    const k = await unwrap(api().POST('/v1/api-keys', { body: { name: o.name, role: o.role } }));
    print(`key ${k.id} (${k.role}): ${k.secret}\nthe secret is shown this once`, k);
  });
keys
  .command('rm')
  .argument('<id>')
  .action(async (id: string) => {
    await unwrap(api().DELETE('/v1/api-keys/{id}', { params: { path: { id } } }));
    print(`key ${id} revoked`, { id, revoked: true });
  });

// ---- errors --------------------------------------------------------------------------------------------

class UsageError extends Error {}
const usage = (m: string) => new UsageError(m);

try {
  await program.parseAsync(process.argv);
} catch (err) {
  if (err instanceof ApiError) {
    if (json()) console.log(JSON.stringify({ error: { code: err.code, message: err.message, details: err.details, status: err.status } }, null, 2));
    else console.error(`error ${err.code}: ${err.message}${err.code === 'UNAUTHENTICATED' ? ' (set MNIST_JOBS_API_KEY)' : ''}`);
    process.exitCode = 1;
  } else if (err instanceof UsageError) {
    console.error(`error: ${err.message}`);
    process.exitCode = 2;
  } else {
    throw err;
  }
}
