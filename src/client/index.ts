// The typed client of the mnist-jobs API, for the CLI, the web UI and other TypeScript services:
//   import { createClient } from 'mnist-jobs/client';
//   const api = createClient({ baseUrl: 'http://localhost:3000', apiKey: process.env.MNIST_JOBS_API_KEY });
//   const { data, error } = await api.GET('/v1/jobs/{id}', { params: { path: { id } } });
// Types come from openapi.yaml (`npm run client:generate` writes schema.d.ts; `npm ci` runs it), the
// requests from openapi-fetch. `unwrap` turns an answer into its data or an ApiError with the API's code.
import createFetchClient, { type Client } from 'openapi-fetch';
import type { Readable } from 'openapi-typescript-helpers';
import type { components, paths } from './schema.js';

export type { components, paths } from './schema.js';
export { streamEvents, type JobEvent, type JobEventData, type JobEventType, type StreamOptions } from './events.js';

// As answers carry them: openapi-fetch reads responses through Readable (tuples become arrays).
type Schemas = components['schemas'];
export type Job = Readable<Schemas['Job']>;
export type Model = Readable<Schemas['Model']>;
export type Dataset = Readable<Schemas['Dataset']>;
export type JobType = Job['type'];
export type JobStatus = Job['status'];
export type ApiKey = Readable<Schemas['ApiKey']>;

// Per job type, as the job contract (src/jobs/contract.ts) publishes it: narrow a Job on `type`, or
// name one type's parts directly, e.g. `ResultOf<'train'>`.
/** A job of one type. */
export type JobOf<T extends JobType> = Extract<Job, { type: T }>;
export type ParamsOf<T extends JobType> = JobOf<T>['params'];
/** What a job of this type holds in `result` once it succeeded. */
export type ResultOf<T extends JobType> = NonNullable<JobOf<T>['result']>;
/** A job's `progress` by type (a sweep's also counts its trials). */
export type ProgressOf<T extends JobType> = NonNullable<JobOf<T>['progress']>;
/** The progress of a job of any type. */
export type JobProgress = ProgressOf<JobType>;
/** One entry of a job's `history`. */
export type JobTransition = Job['history'][number];
/** The metrics of one training epoch (GET /v1/jobs/{id}/metrics, and the `metric` event). */
export type EpochMetric = Readable<paths['/v1/jobs/{id}/metrics']['get']['responses'][200]['content']['application/json']['items'][number]>;

// The schema leaves a dataset's `counts`, `stats` and `source` and a model's `metrics` and `lineage`
// open (stored JSON). These are the shapes the worker writes there, named after the job results and
// params they are copied from (src/worker/processors/dataset-prep.ts, src/worker/training-run.ts);
// read them through the accessors below. Older rows may lack fields.
type PrepResult = ResultOf<'dataset-prep'>;
/** `Dataset.counts`: samples per split. */
export type DatasetCounts = PrepResult['counts'];
/** `Dataset.stats`. */
export interface DatasetStats {
  classCounts?: PrepResult['classCounts'];
  /** Per split (trainOriginal, trainFinal, val, test), on the [0,1] scale. */
  pixelStats?: Record<string, { mean: number; std: number }>;
  duplicates?: PrepResult['duplicates'];
  blankImages?: PrepResult['blank'];
  augmentedCount?: number;
}
/** `Dataset.source`: a description of where the files came from. */
export interface DatasetSourceInfo {
  kind: 'mnist' | 'fashion-mnist' | 'url';
  origin?: string;
  url?: string;
}
/** `Model.metrics`: the test metrics and training summary of the job that made the model. */
export type ModelMetrics = Partial<Pick<ResultOf<'train'>, 'test' | 'calibration' | 'epochsRun' | 'bestEpoch' | 'stoppedEarly' | 'trainSamplesPerSec'>>;
/** `Model.lineage`: where the model came from; a fine-tune adds what it froze and its L2-SP λ. */
export interface ModelLineage {
  datasetId: string;
  jobId: string;
  parentModelId: string | null;
  frozenLayers?: ResultOf<'fine-tune'>['frozenLayers'];
  headReplaced?: boolean;
  unfreezeAfter?: number | null;
  l2sp?: ParamsOf<'fine-tune'>['l2sp'];
}
export const datasetCounts = (d: Dataset) => d.counts as Partial<DatasetCounts> | null;
export const datasetStats = (d: Dataset) => d.stats as DatasetStats | null;
/** The source's kind (`mnist`, `fashion-mnist`, `url`), or the source itself when it is a plain string. */
export const datasetSourceName = (d: Dataset): string => {
  const s = d.source as DatasetSourceInfo | string | null;
  return typeof s === 'string' ? s : (s?.kind ?? s?.url ?? JSON.stringify(s));
};
export const modelMetrics = (m: Model) => m.metrics as ModelMetrics | null;
export const modelLineage = (m: Model) => m.lineage as ModelLineage | null;

export type ApiClient = Client<paths> & { baseUrl: string; headers: () => Record<string, string> };

export interface ClientOptions {
  /** Default http://localhost:3000; '' in a browser page served by the API itself. */
  baseUrl?: string;
  /** Sent as `Authorization: Bearer <key>`; a function is asked on every request (the UI's key can change). */
  apiKey?: string | null | (() => string | null | undefined);
  fetch?: (input: Request) => Promise<Response>;
}

export function createClient(opts: ClientOptions = {}): ApiClient {
  const baseUrl = (opts.baseUrl ?? 'http://localhost:3000').replace(/\/+$/, '');
  const key = () => (typeof opts.apiKey === 'function' ? opts.apiKey() : opts.apiKey) || undefined;
  const headers = (): Record<string, string> => {
    const k = key();
    return k ? { authorization: `Bearer ${k}` } : {};
  };
  const client = createFetchClient<paths>({ baseUrl, fetch: opts.fetch });
  client.use({
    onRequest({ request }) {
      const k = key();
      if (k && !request.headers.has('authorization')) request.headers.set('authorization', `Bearer ${k}`);
      return request;
    },
  });
  return Object.assign(client, { baseUrl, headers });
}

/** An error answer of the API (`{error: {code, message, details}}`), or a network failure (code NETWORK_ERROR). */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The data of a successful answer, or throws ApiError with the API's code. */
export async function unwrap<T>(call: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  let res: Awaited<typeof call>;
  try {
    res = await call;
  } catch (err) {
    throw new ApiError(0, 'NETWORK_ERROR', `The API could not be reached: ${(err as Error).message}`);
  }
  if (res.response.ok) return res.data as T;
  throw toApiError(res.response.status, res.error);
}

export function toApiError(status: number, body: unknown): ApiError {
  const e = (body as { error?: { code?: string; message?: string; details?: unknown } } | undefined)?.error;
  if (e?.code) return new ApiError(status, e.code, e.message ?? e.code, e.details);
  return new ApiError(status, `HTTP_${status}`, typeof body === 'string' && body ? body : `HTTP ${status}`);
}
