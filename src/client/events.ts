// A job's server-sent events (GET /v1/jobs/:id/events) as an async iterator, for the CLI and the UI.
// Read with fetch rather than EventSource because EventSource cannot send the Authorization header.
// A dropped connection is resumed with Last-Event-ID when the server numbers its events.
import { createParser } from 'eventsource-parser';
import { toApiError } from './index.js';

export interface JobEvent {
  /** `status` (the job), `progress`, `metric` (one per epoch), `end`, or any newer event type. */
  event: string;
  data: any;
  id?: string;
}
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
        let data: unknown = m.data;
        try {
          data = JSON.parse(m.data);
        } catch {
          // not JSON: keep the text
        }
        queue.push({ event: m.event ?? 'message', data, id: m.id });
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
