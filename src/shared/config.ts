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
  TFJS_BACKEND: Type.Union(['auto', 'tensorflow-gpu', 'gpu', 'tensorflow', 'wasm', 'cpu'].map((l) => Type.Literal(l))),
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
  MODEL_CACHE_SIZE: Type.Integer({ minimum: 1, maximum: 1000 }),
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
  MODEL_CACHE_SIZE: '4',
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
  return { ...config, DATA_DIR: path.resolve(config.DATA_DIR) };
}
