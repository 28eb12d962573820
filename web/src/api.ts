// The dashboard's API access: one typed client (src/client) for the page's own origin, the API key
// kept in session storage, and what the key's role may do, found out once per key.
import { signal, computed } from '@preact/signals';
import { ApiError, createClient, unwrap } from '../../src/client/index.ts';

export { ApiError, unwrap };
export { datasetCounts, datasetSourceName, datasetStats, modelLineage, modelMetrics } from '../../src/client/index.ts';
export type { Job, Model, Dataset, JobType, JobStatus } from '../../src/client/index.ts';

const KEY = 'mnist-jobs.apiKey';
export const apiKey = signal<string | null>(sessionStorage.getItem(KEY));
export function setApiKey(k: string | null) {
  if (k) sessionStorage.setItem(KEY, k);
  else sessionStorage.removeItem(KEY);
  apiKey.value = k;
}

export const api = createClient({ baseUrl: '', apiKey: () => apiKey.value });

export const ROLES = ['read', 'predict', 'submit', 'admin'] as const;
export type Role = (typeof ROLES)[number];

/** 'off' when the API runs open (every action allowed), 'on' with keys, 'unknown' while asking. */
export const authMode = signal<'off' | 'on' | 'unknown'>('unknown');
/** The role of the current key; null when there is none or it was refused. */
export const role = signal<Role | null>(null);
/** Set when the API answered 401: the key prompt shows. */
export const needKey = signal(false);
/** Job types this API accepts (from its OpenAPI document): newer ones such as `sweep` appear when present. */
export const jobTypes = signal<string[]>(['dataset-prep', 'train', 'fine-tune', 'predict']);
/** The API's paths (from its OpenAPI document), to offer only what it has (e.g. model.onnx). */
export const apiPaths = signal<Set<string>>(new Set());

export const can = (needed: Role) =>
  computed(() => authMode.value === 'off' || (role.value !== null && ROLES.indexOf(role.value) >= ROLES.indexOf(needed)));
export const allowed = (needed: Role) => authMode.value === 'off' || (role.value !== null && ROLES.indexOf(role.value) >= ROLES.indexOf(needed));

async function status(path: string, method = 'GET'): Promise<number> {
  const res = await fetch(path, { method, headers: { ...api.headers(), 'content-type': 'application/json' }, body: method === 'POST' ? '{}' : undefined });
  return res.status;
}

/**
 * The role of the current key, probed without side effects: authentication and the role check run
 * before validation, so an empty body answers 403 to a key below the route's role and 400 above it.
 */
export async function probeRole(): Promise<Role | null> {
  if ((await status('/v1/jobs?limit=1')) === 401) return null;
  if ((await status('/v1/api-keys')) === 200) return 'admin';
  if ((await status('/v1/jobs', 'POST')) === 400) return 'submit';
  if ((await status('/v1/predict', 'POST')) === 400) return 'predict';
  return 'read';
}

export async function initAuth() {
  const [ready, doc] = await Promise.all([
    fetch('/ready').then((r) => r.json()).catch(() => ({})),
    fetch('/openapi.json').then((r) => r.json()).catch(() => null),
  ]);
  const types = findJobTypes(doc);
  if (types.length) jobTypes.value = types;
  apiPaths.value = new Set(Object.keys(doc?.paths ?? {}));
  authMode.value = ready.auth === 'on' ? 'on' : 'off';
  if (authMode.value === 'on') await refreshRole();
}

export async function refreshRole() {
  if (!apiKey.value) {
    role.value = null;
    needKey.value = true;
    return;
  }
  role.value = await probeRole();
  needKey.value = role.value === null;
}

function findJobTypes(doc: any): string[] {
  const t = doc?.components?.schemas?.Job?.properties?.type;
  const out: string[] = [];
  for (const alt of t?.anyOf ?? t?.oneOf ?? [t]) for (const v of alt?.enum ?? (alt?.const ? [alt.const] : [])) out.push(v);
  return out;
}

/** Runs an API call; a 401 brings the key prompt back. */
export async function call<T>(p: Promise<{ data?: T; error?: unknown; response: Response }>): Promise<T> {
  try {
    return await unwrap(p);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) needKey.value = true;
    throw err;
  }
}

export const errorText = (err: unknown) => (err instanceof ApiError ? `${err.code}: ${err.message}` : String((err as Error)?.message ?? err));
