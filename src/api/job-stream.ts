// GET /v1/jobs/:id/events: a job's server-sent events, pushed from its event stream (see
// src/shared/job-events.ts), not polled. A new client first gets the job as it is (status, the epochs
// so far, progress), then every event as it is published; every event carries an `id:`, and a client
// that reconnects with Last-Event-ID gets what it missed, from that id on. A comment line every
// HEARTBEAT_MS keeps proxies from closing an idle stream; the stream ends after the final status.
import type { FastifyReply, FastifyRequest } from 'fastify';
import { STREAM_ID_RE, type JobEvent, type JobEventBus } from '../shared/job-events.js';
import { isTerminal, type Job } from '../jobs/contract.js';
import type { JobsStore } from '../jobs/store.js';

export const HEARTBEAT_MS = 15_000;

export async function streamJobEvents(req: FastifyRequest, reply: FastifyReply, { jobs, events }: { jobs: JobsStore; events: JobEventBus }, id: string): Promise<void> {
  const lastEventId = req.headers['last-event-id'];
  const resumeFrom = typeof lastEventId === 'string' && STREAM_ID_RE.test(lastEventId) ? lastEventId : undefined;
  // The latest event id first, then the row: whatever is published in between is sent again, never missed.
  let cursor = resumeFrom ?? (await events.lastId(id).catch(() => '0-0'));
  const job = await jobs.get(id); // 404 JOB_NOT_FOUND

  reply.hijack();
  const res = reply.raw;
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-request-id': req.id });
  const reader = events.reader();
  let closed = false;
  req.raw.on('close', () => {
    closed = true;
    reader.close();
  });
  const send = (e: Omit<JobEvent, 'id'> & { id?: string }) => res.write(`id: ${e.id ?? cursor}\nevent: ${e.type}\ndata: ${JSON.stringify(e.data)}\n\n`);
  /** The end of the stream, read from Postgres: for a client that connects late, or an `end` event that was lost. */
  const finishFrom = (j: Job) => {
    send({ type: 'status', data: j });
    send({ type: 'end', data: { status: j.status } });
  };

  try {
    if (!resumeFrom) {
      send({ type: 'status', data: job });
      for (const m of await jobs.epochs(id)) send({ type: 'metric', data: m });
      if (job.progress) send({ type: 'progress', data: job.progress });
      if (isTerminal(job.status)) {
        send({ type: 'end', data: { status: job.status } });
        return;
      }
    }
    // A finished job's stream replays at once; only a live one waits for news.
    let wait = isTerminal(job.status) ? 1 : HEARTBEAT_MS;
    while (!closed) {
      let batch: JobEvent[] = [];
      try {
        batch = await reader.read(id, cursor, wait);
      } catch {
        if (closed) break;
        await new Promise((r) => setTimeout(r, 1000)); // Redis is down: the row below still ends the stream
      }
      if (closed) break;
      for (const e of batch) {
        cursor = e.id;
        send(e);
        if (e.type === 'end') return;
      }
      if (batch.length > 0) continue;
      res.write(': heartbeat\n\n');
      const now = await jobs.get(id).catch(() => null);
      if (now && isTerminal(now.status)) return finishFrom(now);
      wait = HEARTBEAT_MS;
    }
  } finally {
    reader.close();
    res.end();
  }
}
