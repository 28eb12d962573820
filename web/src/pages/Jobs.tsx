// Jobs: the live list (filters, pagination, progress pushed by the events stream) and the new-job forms.
import { useEffect, useState } from 'preact/hooks';
import { useLocation } from 'preact-iso';
import { api, call, errorText, jobTypes, type Job } from '../api.ts';
import { streamEvents } from '../../../src/client/index.ts';
import { Badge, ErrorBox, Progress, RoleButton } from '../components/ui.tsx';
import { NewJob } from '../components/NewJob.tsx';
import { short, useLoad, useTitle, when } from '../util.ts';

const STATUSES = ['queued', 'running', 'succeeded', 'failed', 'cancelled'];
const ACTIVE = ['queued', 'running'];
/** Browsers allow ~6 connections per host: stream at most this many jobs, poll the rest. */
const MAX_STREAMS = 3;

export function JobsPage() {
  useTitle('Jobs');
  const { query, route } = useLocation();
  const type = query.type ?? '';
  const status = query.status ?? '';
  const [cursors, setCursors] = useState<(string | undefined)[]>([undefined]);
  const cursor = cursors[cursors.length - 1];
  const [error, setError] = useState<string | null>(null);
  const list = useLoad(
    () => call(api.GET('/v1/jobs', { params: { query: { type: (type || undefined) as never, status: (status || undefined) as never, cursor, limit: 15 } } })),
    [type, status, cursor],
    2500,
  );
  const [live, setLive] = useState<Record<string, Partial<Job>>>({});

  // Running jobs on this page get their progress pushed; the list poll catches everything else.
  const streamed = (list.data?.items ?? []).filter((j) => j.status === 'running').slice(0, MAX_STREAMS).map((j) => j.id);
  const streamKey = streamed.join(',');
  useEffect(() => {
    const abort = new AbortController();
    for (const id of streamed) {
      void (async () => {
        try {
          for await (const ev of streamEvents(api, id, { signal: abort.signal })) {
            if (ev.event === 'progress') setLive((l) => ({ ...l, [id]: { ...l[id], progress: ev.data } }));
            if (ev.event === 'status') setLive((l) => ({ ...l, [id]: { ...l[id], ...ev.data } }));
          }
        } catch {
          // the list poll keeps the row current
        }
      })();
    }
    return () => abort.abort();
  }, [streamKey]);

  const setFilter = (k: string, v: string) => {
    const q = new URLSearchParams({ ...query, [k]: v });
    if (!v) q.delete(k);
    setCursors([undefined]);
    route(`/ui/${q.size ? `?${q}` : ''}`);
  };
  const cancel = async (id: string) => {
    try {
      await call(api.POST('/v1/jobs/{id}/cancel', { params: { path: { id } } }));
      list.reload();
    } catch (err) {
      setError(errorText(err));
    }
  };

  return (
    <main id="main" class="page">
      <h1>Jobs</h1>
      <div class="grid-2">
        <section class="card" aria-labelledby="job-list">
          <h2 id="job-list">Recent jobs</h2>
          <div class="filters">
            <label for="filter-type">Type</label>
              <select id="filter-type" value={type} onChange={(e) => setFilter('type', e.currentTarget.value)}>
                <option value="">all</option>
                {jobTypes.value.map((t) => (
                  <option key={t}>{t}</option>
                ))}
              </select>
            <label for="filter-status">Status</label>
              <select id="filter-status" value={status} onChange={(e) => setFilter('status', e.currentTarget.value)}>
                <option value="">all</option>
                {STATUSES.map((s) => (
                  <option key={s}>{s}</option>
                ))}
              </select>
          </div>
          <ErrorBox error={list.error ?? error} />
          <div class="scroll-x">
            <table class="list" aria-label="Jobs, newest first">
              <thead>
                <tr>
                  <th scope="col">Job</th>
                  <th scope="col">Type</th>
                  <th scope="col">Status</th>
                  <th scope="col" class="w-progress">
                    Progress
                  </th>
                  <th scope="col">Created</th>
                  <th scope="col">
                    <span class="sr-only">Actions</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {(list.data?.items ?? []).map((j0) => {
                  const j = { ...j0, ...live[j0.id] } as Job;
                  return (
                    <tr key={j.id} data-job={j.id}>
                      <td>
                        <a href={`/ui/jobs/${j.id}`} class="mono">
                          {short(j.id)}
                        </a>
                      </td>
                      <td>{j.type}</td>
                      <td>
                        <Badge status={j.status} />
                      </td>
                      <td>
                        <Progress progress={j.progress as any} status={j.status} />
                      </td>
                      <td>{when(j.createdAt)}</td>
                      <td>
                        {ACTIVE.includes(j.status) && (
                          <RoleButton needs="submit" class="small secondary" onClick={() => cancel(j.id)} aria-label={`Cancel job ${short(j.id)}`}>
                            Cancel
                          </RoleButton>
                        )}
                      </td>
                    </tr>
                  );
                })}
                {list.data && list.data.items.length === 0 && (
                  <tr>
                    <td colSpan={6}>No jobs{type || status ? ' match these filters' : ' yet: start one with the form'}.</td>
                  </tr>
                )}
              </tbody>
            </table>
          </div>
          <div class="row pager">
            <button class="secondary" disabled={cursors.length < 2} onClick={() => setCursors(cursors.slice(0, -1))}>
              ← Newer
            </button>
            <span>page {cursors.length}</span>
            <button class="secondary" disabled={!list.data?.nextCursor} onClick={() => setCursors([...cursors, list.data!.nextCursor!])}>
              Older →
            </button>
          </div>
        </section>
        <NewJob />
      </div>
    </main>
  );
}
