// Faults, against a Postgres and a Redis of this test's own: a database that goes away for 10 s in
// the middle of a training, one that refuses a job's final rows for a while, and a Redis that loses
// the queue's keys while one job trains and another waits. Each ends with every job succeeded, one
// metric row per epoch, and no process restarted.
import assert from 'node:assert/strict';
import { after, afterEach, it } from 'node:test';
import type { FastifyInstance } from 'fastify';
import { migrate } from '../../src/shared/migrate.js';
import { startService, submit } from '../helpers.js';
import { gzipAll, mnistSlice, startIdxServer } from '../fixtures/idx-server.js';
import { startPrivatePostgres, startPrivateRedis } from '../fixtures/private-infra.js';

const server = await startIdxServer({ small: gzipAll(await mnistSlice(1200, 100)) });
// What a test started is stopped after it: a service left running would take the next test's jobs
// from the shared queue and not find them in its own database.
const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c().catch((err) => console.error(err));
});
after(() => server.close());

/** The job over HTTP, or undefined while the API cannot read it (its database is away). */
async function read(app: FastifyInstance, id: string) {
  const res = await app.inject(`/v1/jobs/${id}`);
  if (res.statusCode === 200) return res.json();
  assert.equal(res.statusCode, 503, `a dependency that is down answers 503, not ${res.statusCode}: ${res.body}`);
  return undefined;
}

async function until(app: FastifyInstance, id: string, ok: (job: any) => boolean, what: string, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const job = await read(app, id);
    if (job && ok(job)) return job;
    assert.ok(Date.now() < deadline, `timed out waiting until ${what}: ${JSON.stringify(job?.progress)} ${job?.status}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
const finished = (j: any) => ['succeeded', 'failed', 'cancelled'].includes(j.status);

async function prepare(app: FastifyInstance) {
  const prep = await submit(app, 'dataset-prep', { source: { url: server.url('small') }, seed: 1 });
  const done = await until(app, prep.id, finished, 'the dataset is prepared');
  assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
  return prep.id as string;
}

async function epochsOf(app: FastifyInstance, id: string) {
  return (await app.inject(`/v1/jobs/${id}/metrics`)).json().items.map((m: any) => m.epoch);
}

/** The service (API and workers) on a migrated database of a Postgres of its own, stopped after the test. */
async function serviceOnPrivatePostgres() {
  const pg = await startPrivatePostgres();
  cleanups.push(() => pg.destroy());
  const url = new URL(pg.url);
  url.pathname = '/mnist_faults';
  await migrate(url.toString());
  const svc = await startService({ api: true, worker: true }, { DATABASE_URL: url.toString(), OUTBOUND_ALLOW_PRIVATE: true });
  cleanups.push(() => svc.close());
  return { pg, svc };
}

it('rides out Postgres stopped for 10 s mid-training, and a job picked up meanwhile', async () => {
  const { pg, svc } = await serviceOnPrivatePostgres();
  const { app } = svc;

  const datasetId = await prepare(app);
  const epochs = 4;
  const training = await submit(app, 'train', { datasetId, architecture: 'mlp', epochs, batchSize: 32, seed: 3 });
  // A second job that a worker takes while the database is away: held back until then.
  await svc.queues['dataset-prep'].pause();
  const waiting = await submit(app, 'dataset-prep', { source: { url: server.url('small') }, seed: 2 });
  await until(app, training.id, (j) => (j.progress?.epoch ?? 0) >= 2 || finished(j), 'the training is in its second epoch');

  await pg.stop();
  const stoppedAt = Date.now();
  await svc.queues['dataset-prep'].resume();
  const ready = await app.inject('/ready');
  assert.equal(ready.statusCode, 503);
  assert.deepEqual(ready.json().down, ['postgres']);
  while (Date.now() - stoppedAt < 10_000) {
    assert.equal(await read(app, training.id), undefined);
    await new Promise((r) => setTimeout(r, 500));
  }
  await pg.start();

  const a = await until(app, training.id, finished, 'the training ends');
  const b = await until(app, waiting.id, finished, 'the waiting job ends');
  assert.equal(a.status, 'succeeded', JSON.stringify(a.error));
  assert.equal(b.status, 'succeeded', JSON.stringify(b.error));
  assert.deepEqual(await epochsOf(app, training.id), [1, 2, 3, 4]);
  // No restart: the run went on from where it was, it did not start over.
  assert.equal(a.result.resumedFromEpoch, 0);
});

it('a job whose final row Postgres refuses for a while records it in place, without running again', async () => {
  // The moment a training ends cannot be hit by stopping the server (the per-epoch writes already
  // wait out an outage, and the end comes right after the last one), so the database refuses it: a
  // trigger answers the first attempts at a job's dataset or model row with SQLSTATE 57P03 ("the
  // database system is starting up"), what a restarting Postgres says. Handed back to the queue
  // instead, the job was run again (the training resumed from its last epoch's checkpoint).
  const { svc } = await serviceOnPrivatePostgres();
  const { app, db } = svc;
  await db.$executeRawUnsafe('CREATE TABLE injected_faults (tbl text, job_id uuid, times int)');
  for (const tbl of ['datasets', 'models']) await db.$executeRawUnsafe(`CREATE SEQUENCE injected_attempts_${tbl}`);
  // A sequence, unlike a row, counts the attempts that the error rolls back.
  await db.$executeRawUnsafe(`CREATE FUNCTION refuse_while_faulted() RETURNS trigger LANGUAGE plpgsql AS $$
    DECLARE t int;
    BEGIN
      SELECT times INTO t FROM injected_faults WHERE tbl = TG_TABLE_NAME AND job_id = NEW.job_id;
      IF FOUND THEN
        IF nextval('injected_attempts_' || TG_TABLE_NAME) <= t THEN
          RAISE EXCEPTION 'the database system is starting up (injected)' USING ERRCODE = '57P03';
        END IF;
      END IF;
      RETURN NEW;
    END $$`);
  for (const tbl of ['datasets', 'models']) await db.$executeRawUnsafe(`CREATE TRIGGER refuse_while_faulted BEFORE INSERT OR UPDATE ON ${tbl} FOR EACH ROW EXECUTE FUNCTION refuse_while_faulted()`);
  const attempts = async (tbl: string) => Number((await db.$queryRawUnsafe<{ n: bigint }[]>(`SELECT last_value AS n FROM injected_attempts_${tbl}`))[0]!.n);
  // Each job is submitted with its queue paused, so that its fault is in place before it runs.
  const refused = async (type: 'dataset-prep' | 'train', tbl: string, params: object) => {
    await svc.queues[type].pause();
    const job = await submit(app, type, params);
    await db.$executeRawUnsafe('INSERT INTO injected_faults VALUES ($1, $2::uuid, 3)', tbl, job.id);
    await svc.queues[type].resume();
    const done = await until(app, job.id, finished, `the ${type} job ends`);
    assert.equal(done.status, 'succeeded', JSON.stringify(done.error));
    assert.equal(await attempts(tbl), 4, `its ${tbl} row was refused 3 times, then written`);
    assert.deepEqual(done.history.map((h: { status: string }) => h.status), ['queued', 'running', 'succeeded'], `it never went back to the queue: ${JSON.stringify(done.history)}`);
    return done;
  };

  const prep = await refused('dataset-prep', 'datasets', { source: { url: server.url('small') }, seed: 1 });
  const epochs = 2;
  const trained = await refused('train', 'models', { datasetId: prep.id, architecture: 'mlp', epochs, batchSize: 32, seed: 6 });
  assert.equal(trained.result.resumedFromEpoch, 0, 'the training ran once');
  assert.deepEqual(await epochsOf(app, trained.id), [1, 2]);
  assert.equal((await app.inject(`/v1/models/${trained.id}`)).statusCode, 200);
});

it('re-enqueues a job whose queue entry Redis lost, while the running training goes on', async () => {
  const redis = await startPrivateRedis();
  cleanups.push(() => redis.destroy());
  const svc = await startService({ api: true, worker: true }, { REDIS_URL: redis.url, RECONCILE_INTERVAL_MS: 2000, OUTBOUND_ALLOW_PRIVATE: true });
  cleanups.push(() => svc.close());
  const { app } = svc;

  const datasetId = await prepare(app);
  const epochs = 10; // still running when checked, on a quiet machine too
  const running = await submit(app, 'train', { datasetId, architecture: 'mlp', epochs, batchSize: 16, seed: 4 });
  const waiting = await submit(app, 'train', { datasetId, architecture: 'mlp', epochs: 2, batchSize: 32, seed: 5 });
  await until(app, running.id, (j) => (j.progress?.epoch ?? 0) >= 2 || finished(j), 'the training is in its second epoch');
  assert.equal(await svc.queues.train.getJobState(waiting.id), 'waiting');

  const lost = await redis.flushPrefix(svc.config.QUEUE_PREFIX);
  const flushedAt = Date.now();
  assert.ok(lost > 0);
  assert.equal(await svc.queues.train.getJobState(waiting.id), 'unknown');
  // The reconciler puts it back: measure how long it was missing.
  for (;;) {
    const state = await svc.queues.train.getJobState(waiting.id);
    if (state !== 'unknown') break;
    assert.ok(Date.now() - flushedAt < 60_000, 'the lost job was never re-enqueued');
    await new Promise((r) => setTimeout(r, 50));
  }
  const requeuedAfterMs = Date.now() - flushedAt;
  console.log(`# re-enqueued ${requeuedAfterMs} ms after Redis lost it (RECONCILE_INTERVAL_MS=2000)`);

  const a = await until(app, running.id, finished, 'the running training ends');
  const b = await until(app, waiting.id, finished, 'the waiting training ends');
  assert.equal(a.status, 'succeeded', JSON.stringify(a.error));
  assert.equal(b.status, 'succeeded', JSON.stringify(b.error));
  assert.equal(a.attempts, 1, 'the running training was not started again');
  assert.equal(a.result.resumedFromEpoch, 0);
  assert.deepEqual(await epochsOf(app, running.id), Array.from({ length: epochs }, (_, i) => i + 1));
  assert.deepEqual(await epochsOf(app, waiting.id), [1, 2]);
});
