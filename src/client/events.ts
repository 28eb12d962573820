// A job's server-sent events (GET /v1/jobs/:id/events) as an async iterator, for the CLI and the UI.
// Read with fetch rather than EventSource because EventSource cannot send the Authorization header.
// A dropped connection is resumed with Last-Event-ID when the server numbers its events.
import { createParser } from 'eventsource-parser';
import { toApiError, type EpochMetric, type Job, type JobProgress, type JobStatus } from './index.js';

/** The data of each event type the API sends (src/shared/job-events.ts). */
export interface JobEventData {
  /** The job as it is now: sent first, and on every status change. */
  status: Job;
  progress: JobProgress;
  /** One per finished epoch. */
  metric: EpochMetric;
  /** The last event of the stream. */
  end: { status: JobStatus };
}
export type JobEventType = keyof JobEventData;
/** One event; narrow on `event` to type `data`. */
export type JobEvent = { [E in JobEventType]: { event: E; data: JobEventData[E]; id?: string } }[JobEventType];
const EVENT_TYPES: ReadonlySet<string> = new Set<JobEventType>(['status', 'progress', 'metric', 'end']);
export interface StreamOptions {
  signal?: AbortSignal;
  /** Connection attempts after a drop before giving up (default 5). */
  retries?: number;
}

interface Target {
  baseUrl: string;
  headers: () => Record<string, string>;
}

export async function* streamEvents(client: Target, jobId: string, opts: StreamOptions = {}): AsyncGenerator<JobEvent> {
  let lastId: string | undefined;
  let retries = opts.retries ?? 5;
  for (;;) {
    const headers: Record<string, string> = { ...client.headers(), accept: 'text/event-stream' };
    if (lastId) headers['last-event-id'] = lastId;
    let res: Response;
    try {
      res = await fetch(`${client.baseUrl}/v1/jobs/${encodeURIComponent(jobId)}/events`, { headers, signal: opts.signal });
    } catch (err) {
      if (opts.signal?.aborted || retries-- <= 0) throw err;
      await pause(1000, opts.signal);
      continue;
    }
    if (!res.ok || !res.body) throw toApiError(res.status, await res.json().catch(() => undefined));
    const queue: JobEvent[] = [];
    const parser = createParser({
      onEvent(m) {
        if (m.id) lastId = m.id;
        // An event type this client does not know (a newer server's) is skipped: nothing here could
        // read its data. The known ones carry the JSON of JobEventData; one that does not parse is
        // not the API's and is skipped too.
        if (!m.event || !EVENT_TYPES.has(m.event)) return;
        let data: unknown;
        try {
          data = JSON.parse(m.data);
        } catch {
          return;
        }
        queue.push({ event: m.event, data, id: m.id } as JobEvent);
      },
    });
    const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
    try {
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        parser.feed(value);
        while (queue.length) {
          const ev = queue.shift()!;
          yield ev;
          if (ev.event === 'end') return;
        }
      }
    } catch (err) {
      if (opts.signal?.aborted) return;
      if (retries-- <= 0) throw err;
    } finally {
      reader.cancel().catch(() => {});
    }
    if (opts.signal?.aborted) return;
    await pause(500, opts.signal);
  }
}

const pause = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const t = setTimeout(resolve, ms);
    signal?.addEventListener(
      'abort',
      () => {
        clearTimeout(t);
        resolve();
      },
      { once: true },
    );
  });
