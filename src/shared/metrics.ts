// The Prometheus metrics of the service (prom-client), one registry per process. Every layer counts
// into the metrics defined here; the API serves them at GET /metrics, a worker started alone on
// WORKER_METRICS_PORT. Under `npm start` the API asks its worker child for the child's series over
// IPC and merges them (AggregatorRegistry.aggregate: counters and histograms summed, the event-loop
// lag averaged, queue depth taken once), so one scrape shows both processes.
// No label takes unbounded values: job types, statuses, queue states, route templates, HTTP status
// codes, and for predictions the alias a client named (or `id`), never a job or model id.
import { AggregatorRegistry, Counter, Gauge, Histogram, Registry, collectDefaultMetrics, type MetricObjectWithValues, type MetricValue } from 'prom-client';

export type MetricsSnapshot = MetricObjectWithValues<MetricValue<string>>[];

export const registry = new Registry();
collectDefaultMetrics({ register: registry });

const P = 'mnist_jobs_';
/** Seconds, from a few milliseconds (HTTP, predict) to hours (training). */
const JOB_BUCKETS = [0.1, 0.5, 1, 5, 15, 30, 60, 120, 300, 600, 1800, 3600, 7200, 21600];
const FAST_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

export const jobsTotal = new Counter({
  name: `${P}jobs_total`,
  help: 'Jobs that reached a terminal status',
  labelNames: ['type', 'status'] as const,
  registers: [registry],
});

export const queueDepth = new Gauge({
  name: `${P}queue_depth`,
  help: 'BullMQ jobs per queue and state (waiting, active, delayed, failed)',
  labelNames: ['type', 'state'] as const,
  registers: [registry],
  // Every process that reads it reads the same Redis: merged, one reading counts, not their sum.
  aggregator: 'max',
});

export const jobDuration = new Histogram({
  name: `${P}job_duration_seconds`,
  help: 'Run time of a job, from its first start to its terminal status',
  labelNames: ['type', 'status'] as const,
  buckets: JOB_BUCKETS,
  registers: [registry],
});

export const jobWait = new Histogram({
  name: `${P}job_wait_seconds`,
  help: 'Time a job waited in the queue before it first started',
  labelNames: ['type'] as const,
  buckets: JOB_BUCKETS,
  registers: [registry],
});

export const httpDuration = new Histogram({
  name: `${P}http_request_duration_seconds`,
  help: 'HTTP request duration by route template',
  labelNames: ['method', 'route', 'status_code'] as const,
  buckets: FAST_BUCKETS,
  registers: [registry],
});

export const predictImages = new Counter({
  name: `${P}predict_images_total`,
  help: 'Images predicted synchronously, by the alias the client named (`id` when named by id)',
  labelNames: ['model'] as const,
  registers: [registry],
});

export const predictBatchSize = new Histogram({
  name: `${P}predict_batch_size`,
  help: 'Images per model call (micro-batches)',
  buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512],
  registers: [registry],
});

export const predictQueueSeconds = new Histogram({
  name: `${P}predict_queue_seconds`,
  help: 'Time a request waited in the micro-batcher before its model call started',
  buckets: FAST_BUCKETS,
  registers: [registry],
});

export const predictComputeSeconds = new Histogram({
  name: `${P}predict_compute_seconds`,
  help: 'Duration of one model call',
  buckets: FAST_BUCKETS,
  registers: [registry],
});

export const modelCacheHits = new Counter({ name: `${P}model_cache_hits_total`, help: 'Predictions whose model was loaded already', registers: [registry] });
export const modelCacheMisses = new Counter({ name: `${P}model_cache_misses_total`, help: 'Predictions that had to load their model', registers: [registry] });

export const trainingSamples = new Counter({
  name: `${P}training_samples_total`,
  help: 'Training samples processed by train and fine-tune jobs',
  labelNames: ['type'] as const,
  registers: [registry],
});

export const trainingEpochs = new Counter({
  name: `${P}training_epochs_total`,
  help: 'Training epochs completed by train and fine-tune jobs',
  labelNames: ['type'] as const,
  registers: [registry],
});

/** Counts a job that reached a terminal status: the total and its run time (0 if it never ran). */
export function observeJobFinished(type: string, status: string, times: { startedAt: Date | null; finishedAt: Date | null }): void {
  jobsTotal.inc({ type, status });
  const end = (times.finishedAt ?? new Date()).getTime();
  jobDuration.observe({ type, status }, times.startedAt ? Math.max(0, (end - times.startedAt.getTime()) / 1000) : 0);
}

/** Counts a job's wait in the queue, once, when it first starts. */
export function observeJobStarted(type: string, createdAt: Date, startedAt: Date): void {
  jobWait.observe({ type }, Math.max(0, (startedAt.getTime() - createdAt.getTime()) / 1000));
}

type QueueCounts = () => Promise<Record<string, Record<string, number>>>;
let queueCounts: QueueCounts | undefined;

/** Makes every scrape read the queues' depths first: `counts` gives {type: {waiting, active, delayed, failed}}. */
export function trackQueueDepth(counts: QueueCounts): void {
  queueCounts = counts;
}

async function readQueueDepth(): Promise<void> {
  if (!queueCounts) return;
  try {
    const byType = await queueCounts();
    for (const [type, states] of Object.entries(byType)) {
      for (const [state, n] of Object.entries(states)) queueDepth.set({ type, state }, n);
    }
  } catch {
    // Redis down: the last reading stays (and /ready says what is down).
  }
}

/** This process's series, as prom-client's JSON (what a worker child sends its parent). */
export async function snapshot(): Promise<MetricsSnapshot> {
  await readQueueDepth();
  return (await registry.getMetricsAsJSON()) as MetricsSnapshot;
}

/** The Prometheus text of this process, merged with `others` (e.g. the worker child's snapshot). */
export async function render(others: MetricsSnapshot[] = []): Promise<{ contentType: string; body: string }> {
  if (others.length === 0) {
    await readQueueDepth();
    return { contentType: registry.contentType, body: await registry.metrics() };
  }
  const merged = AggregatorRegistry.aggregate([await snapshot(), ...others] as Parameters<typeof AggregatorRegistry.aggregate>[0]);
  return { contentType: registry.contentType, body: await merged.metrics() };
}
