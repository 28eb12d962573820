// GET /v1/jobs/:id/events: a job's server-sent events, pushed from its event stream (see
// src/shared/job-events.ts), not polled. A new client first gets the job as it is (status, the epochs
// so far, progress), then every event as it is published; every event carries an `id:`, and a client
// that reconnects with Last-Event-ID gets what it missed, from that id on. A comment line every
// HEARTBEAT_MS keeps proxies from closing an idle stream; the stream ends after the final status.
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Db } from '../shared/db.js';
import { notFound } from '../shared/errors.js';
import { STREAM_ID_RE, type JobEvent, type JobEventBus } from '../shared/job-events.js';
import { TERMINAL_STATUSES } from '../shared/jobs.js';
import { toApiJob } from '../shared/job-rows.js';

export const HEARTBEAT_MS = 15_000;

export async function streamJobEvents(req: FastifyRequest, reply: FastifyReply, { db, events }: { db: Db; events: JobEventBus }, id: string): Promise<void> {
  const lastEventId = req.headers['last-event-id'];
  const resumeFrom = typeof lastEventId === 'string' && STREAM_ID_RE.test(lastEventId) ? lastEventId : undefined;
  // The latest event id first, then the row: whatever is published in between is sent again, never missed.
  let cursor = resumeFrom ?? (await events.lastId(id).catch(() => '0-0'));
  const row = await db.job.findUnique({ where: { id } });
  if (!row) throw notFound('Job', id, 'JOB_NOT_FOUND');

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
  const finishFromRow = (r: NonNullable<typeof row>) => {
    send({ type: 'status', data: toApiJob(r) });
    send({ type: 'end', data: { status: r.status } });
  };

  try {
    if (!resumeFrom) {
      send({ type: 'status', data: toApiJob(row) });
      const metrics = await db.epochMetric.findMany({ where: { jobId: id }, orderBy: { epoch: 'asc' } });
      for (const { jobId, createdAt, ...m } of metrics) send({ type: 'metric', data: m });
      if (row.progress) send({ type: 'progress', data: row.progress });
      if (TERMINAL_STATUSES.includes(row.status)) {
        send({ type: 'end', data: { status: row.status } });
        return;
      }
    }
    // A finished job's stream replays at once; only a live one waits for news.
    let wait = TERMINAL_STATUSES.includes(row.status) ? 1 : HEARTBEAT_MS;
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
      const now = await db.job.findUnique({ where: { id } }).catch(() => null);
      if (now && TERMINAL_STATUSES.includes(now.status)) return finishFromRow(now);
      wait = HEARTBEAT_MS;
    }
  } finally {
    reader.close();
    res.end();
  }
}
