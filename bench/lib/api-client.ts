// The few API calls a benchmark needs: submit a job, follow it, wait for it, cancel it.
export interface JobView {
  id: string;
  type: string;
  status: 'queued' | 'running' | 'succeeded' | 'failed' | 'cancelled';
  progress: Record<string, unknown> | null;
  result: any;
  error: unknown;
}

export async function submitJob(url: string, type: string, params: unknown): Promise<JobView> {
  const res = await fetch(`${url}/v1/jobs`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ type, params }),
  });
  if (res.status !== 202) throw new Error(`POST /v1/jobs (${type}) answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as JobView;
}

/** Polls until the job is finished; throws unless it succeeded. `onProgress` sees every poll. */
export async function waitForJob(url: string, id: string, { timeoutMs = 900_000, onProgress }: { timeoutMs?: number; onProgress?: (j: JobView) => void } = {}): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(url, id);
    onProgress?.(job);
    if (job.status === 'succeeded') return job;
    if (job.status === 'failed' || job.status === 'cancelled') throw new Error(`job ${id} (${job.type}) ${job.status}: ${JSON.stringify(job.error)}`);
    if (Date.now() > deadline) throw new Error(`job ${id} (${job.type}) still ${job.status} after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

export async function getJob(url: string, id: string): Promise<JobView> {
  const res = await fetch(`${url}/v1/jobs/${id}`);
  if (!res.ok) throw new Error(`GET /v1/jobs/${id} answered ${res.status}: ${await res.text()}`);
  return (await res.json()) as JobView;
}

/** Polls until `until(job)` holds; throws if the job ends first or the time runs out. */
export async function waitUntil(url: string, id: string, until: (j: JobView) => boolean, timeoutMs = 300_000): Promise<JobView> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await getJob(url, id);
    if (until(job)) return job;
    if (['succeeded', 'failed', 'cancelled'].includes(job.status)) throw new Error(`job ${id} (${job.type}) ended ${job.status} first`);
    if (Date.now() > deadline) throw new Error(`job ${id} (${job.type}) not there after ${timeoutMs} ms: ${job.status}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}

export async function cancelJob(url: string, id: string): Promise<void> {
  const res = await fetch(`${url}/v1/jobs/${id}/cancel`, { method: 'POST' });
  if (!res.ok) throw new Error(`POST /v1/jobs/${id}/cancel answered ${res.status}: ${await res.text()}`);
}
