// Configuration from the environment, validated once at start so a bad value fails loudly and early.
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import path from 'node:path';

const ConfigSchema = Type.Object({
  DATABASE_URL: Type.String({ pattern: '^postgres(ql)?://' }),
  REDIS_URL: Type.String({ pattern: '^rediss?://' }),
  /** Prefix of every BullMQ key, so that several deployments or test runs can share one Redis. */
  QUEUE_PREFIX: Type.String({ minLength: 1, pattern: '^[A-Za-z0-9_:.-]+$' }),
  DATA_DIR: Type.String({ minLength: 1 }),
  PORT: Type.Integer({ minimum: 0, maximum: 65535 }),
  HOST: Type.String({ minLength: 1 }),
  LOG_LEVEL: Type.Union(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l))),
  TFJS_BACKEND: Type.Union(['auto', 'tensorflow-gpu', 'gpu', 'tensorflow', 'native', 'wasm', 'cpu'].map((l) => Type.Literal(l))),
  /** How many jobs one worker process runs at once (training is CPU bound: keep it low). */
  WORKER_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 64 }),
  /** Largest download accepted for a `{url}` dataset source, per file. */
  DOWNLOAD_MAX_BYTES: Type.Integer({ minimum: 1 }),
  DOWNLOAD_TIMEOUT_MS: Type.Integer({ minimum: 1 }),
  /** Hosts `{url}` sources may be fetched from, comma-separated (`*.example.org` for subdomains); empty: any. */
  DOWNLOAD_ALLOWED_HOSTS: Type.String({ pattern: '^[A-Za-z0-9.*:,\\[\\] _-]*$' }),
  /** Inputs accepted by one synchronous predict request. */
  PREDICT_MAX_INPUTS: Type.Integer({ minimum: 1, maximum: 10000 }),
  PREDICT_BATCH_WINDOW_MS: Type.Number({ minimum: 0, maximum: 1000 }),
  PREDICT_MAX_BATCH: Type.Integer({ minimum: 1, maximum: 100000 }),
  /** A prediction whose top (calibrated) probability is below this is flagged `lowConfidence`. */
  PREDICT_LOW_CONFIDENCE: Type.Number({ minimum: 0, maximum: 1 }),
  MODEL_CACHE_SIZE: Type.Integer({ minimum: 1, maximum: 1000 }),
  // ---- hardening (issue 10) ----
  /** Outbound requests ({url} sources, webhooks) may reach loopback and private networks. */
  OUTBOUND_ALLOW_PRIVATE: Type.Boolean(),
  /** Bootstrap API keys: `<role>:<secret>[,<role>:<secret>…]`, secrets ≥ 16 characters (parsed by src/api/auth.ts). */
  API_KEYS: Type.String(),
  /** Server secret of the keyed hash (HMAC-SHA-256) API keys are stored under; empty: derived from nothing, set it in production. */
  API_KEY_PEPPER: Type.String(),
  /** Refuse to start without any API key (bootstrap or stored). */
  AUTH_REQUIRED: Type.Boolean(),
  /** Requests per key (per client IP when auth is off) per window; 0 turns rate limiting off. */
  RATE_LIMIT_MAX: Type.Integer({ minimum: 0 }),
  RATE_LIMIT_WINDOW_S: Type.Integer({ minimum: 1, maximum: 86400 }),
  /** Failed authentications (401) per client IP per RATE_LIMIT_WINDOW_S; beyond it 429 RATE_LIMITED. 0: not limited. */
  AUTH_FAILURE_LIMIT_MAX: Type.Integer({ minimum: 0 }),
  /** Images waiting for the predictor at most; beyond it POST /predict answers 503 OVERLOADED at once. */
  PREDICT_MAX_QUEUE: Type.Integer({ minimum: 1 }),
  /** Deadline of one synchronous prediction; past it 503 PREDICT_TIMEOUT. */
  PREDICT_TIMEOUT_MS: Type.Integer({ minimum: 1 }),
  /** Declared bytes of /predict bodies being read or parsed at once; beyond it 503 OVERLOADED before the body is read. */
  PREDICT_MAX_INFLIGHT_BYTES: Type.Integer({ minimum: 1024 }),
  /** Request body limits: synchronous predict, and everything else (job submissions). */
  PREDICT_BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024 }),
  JOBS_BODY_LIMIT_BYTES: Type.Integer({ minimum: 1024 }),
  /** Inline `inputs` of a predict job at most (larger sets go through a dataset). */
  PREDICT_JOB_MAX_INPUTS: Type.Integer({ minimum: 1, maximum: 100000 }),
  /** Image decodes running at once in the API (sharp's threads), so a flood of PNGs cannot starve the event loop. */
  IMAGE_DECODE_CONCURRENCY: Type.Integer({ minimum: 1, maximum: 64 }),
  /** Queued + running jobs one key (or client IP when auth is off) may have; 0: unlimited. */
  MAX_ACTIVE_JOBS_PER_KEY: Type.Integer({ minimum: 0 }),
  /** Server cap (and default) of a job's `maxRuntimeSeconds`. */
  MAX_JOB_RUNTIME_S: Type.Integer({ minimum: 1, maximum: 2_000_000 }),
  /** Origins allowed by CORS, comma-separated (`*` for any); empty: no cross-origin access. */
  CORS_ORIGINS: Type.String(),
  /** Off: no request or prediction is measured (GET /metrics still answers, with the process series). */
  METRICS_ENABLED: Type.Boolean(),
  /** How often the reconciler makes Postgres and the queue agree (one pass at a time across all processes). */
  RECONCILE_INTERVAL_MS: Type.Integer({ minimum: 100, maximum: 3_600_000 }),
  /** A worker started alone (`npm run start:worker`) serves /metrics and /health here; 0: not at all. */
  WORKER_METRICS_PORT: Type.Integer({ minimum: 0, maximum: 65535 }),
  /** How long one webhook delivery attempt may take before it counts as failed (and is retried). */
  WEBHOOK_TIMEOUT_MS: Type.Integer({ minimum: 100, maximum: 120_000 }),
  /** Signs the deliveries to a job's `callbackUrl` (Standard Webhooks `whsec_…` secret); empty: callbackUrl is refused. */
  CALLBACK_SECRET: Type.String({ pattern: '^(whsec_[A-Za-z0-9+/=]{16,})?$' }),
  /** Where artifacts live: `fs` (under DATA_DIR) or `s3` (a bucket shared by every machine). */
  ARTIFACT_STORE: Type.Union([Type.Literal('fs'), Type.Literal('s3')]),
  S3_BUCKET: Type.String({ pattern: '^([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])?$' }),
  /** Prepended to every key in the bucket, e.g. `mnist-jobs/`; empty: the bucket's root. */
  S3_PREFIX: Type.String({ pattern: '^([A-Za-z0-9!_.*()-]+/?)*$' }),
  /** For S3-compatible services other than AWS, e.g. http://minio:9000; empty: AWS. */
  S3_ENDPOINT: Type.String({ pattern: '^(https?://.+)?$' }),
  S3_FORCE_PATH_STYLE: Type.Boolean(),
  AWS_REGION: Type.String(),
  /** Bound of each process's local cache of downloaded artifacts (DATA_DIR/cache). */
  ARTIFACT_CACHE_MAX_BYTES: Type.Integer({ minimum: 0 }),
});
export type Config = Static<typeof ConfigSchema>;

const DEFAULTS: Record<keyof Config, string> = {
  DATABASE_URL: 'postgresql://postgres@127.0.0.1:5432/mnist_jobs',
  REDIS_URL: 'redis://127.0.0.1:6379',
  QUEUE_PREFIX: 'mnist-jobs',
  DATA_DIR: './data',
  PORT: '3000',
  HOST: '0.0.0.0',
  LOG_LEVEL: 'info',
  TFJS_BACKEND: 'auto',
  WORKER_CONCURRENCY: '1',
  DOWNLOAD_MAX_BYTES: String(200 * 1024 * 1024),
  DOWNLOAD_TIMEOUT_MS: String(120_000),
  DOWNLOAD_ALLOWED_HOSTS: '',
  PREDICT_MAX_INPUTS: '256',
  PREDICT_BATCH_WINDOW_MS: '0',
  PREDICT_MAX_BATCH: '256',
  PREDICT_LOW_CONFIDENCE: '0.8',
  MODEL_CACHE_SIZE: '4',
  OUTBOUND_ALLOW_PRIVATE: 'false',
  API_KEYS: '',
  API_KEY_PEPPER: '',
  AUTH_REQUIRED: 'false',
  RATE_LIMIT_MAX: '600',
  RATE_LIMIT_WINDOW_S: '60',
  AUTH_FAILURE_LIMIT_MAX: '30',
  PREDICT_MAX_QUEUE: '4096',
  PREDICT_TIMEOUT_MS: '10000',
  PREDICT_MAX_INFLIGHT_BYTES: String(64 * 1024 * 1024),
  PREDICT_BODY_LIMIT_BYTES: String(8 * 1024 * 1024),
  JOBS_BODY_LIMIT_BYTES: String(4 * 1024 * 1024),
  PREDICT_JOB_MAX_INPUTS: '10000',
  IMAGE_DECODE_CONCURRENCY: '2',
  MAX_ACTIVE_JOBS_PER_KEY: '20',
  MAX_JOB_RUNTIME_S: String(24 * 3600),
  CORS_ORIGINS: '',
  METRICS_ENABLED: 'true',
  RECONCILE_INTERVAL_MS: '30000',
  WORKER_METRICS_PORT: '9464',
  WEBHOOK_TIMEOUT_MS: '10000',
  CALLBACK_SECRET: '',
  ARTIFACT_STORE: 'fs',
  S3_BUCKET: '',
  S3_PREFIX: '',
  S3_ENDPOINT: '',
  S3_FORCE_PATH_STYLE: 'false',
  AWS_REGION: 'us-east-1',
  ARTIFACT_CACHE_MAX_BYTES: String(2 * 1024 * 1024 * 1024),
};

export class ConfigError extends Error {}

/** Reads and validates the configuration; `overrides` win over the environment (used by tests). */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const raw: Record<string, unknown> = {};
  for (const key of Object.keys(DEFAULTS) as (keyof Config)[]) {
    const value = env[key] === undefined || env[key] === '' ? DEFAULTS[key] : env[key];
    raw[key] = value;
  }
  const converted = Value.Convert(ConfigSchema, raw) as Record<string, unknown>;
  const merged = { ...converted, ...overrides };
  const errors = [...Value.Errors(ConfigSchema, merged)];
  if (errors.length > 0) {
    const lines = errors.map((e) => `  ${e.path.slice(1)}=${JSON.stringify(raw[e.path.slice(1)] ?? (merged as Record<string, unknown>)[e.path.slice(1)])}: ${e.message}`);
    throw new ConfigError(`Invalid configuration:\n${[...new Set(lines)].join('\n')}`);
  }
  const config = merged as Config;
  if (config.ARTIFACT_STORE === 's3' && !config.S3_BUCKET) throw new ConfigError('Invalid configuration:\n  S3_BUCKET: required when ARTIFACT_STORE=s3');
  return { ...config, DATA_DIR: path.resolve(config.DATA_DIR) };
}
