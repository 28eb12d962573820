// The migration runner: applies the committed SQL once, is a no-op the second time, and is safe when
// several processes start at once.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, it } from 'node:test';
import pg from 'pg';
import { migrate } from '../../src/shared/migrate.js';

const admin = new URL(process.env.DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres');
admin.pathname = '/postgres';
const name = `mnist_migrate_${randomBytes(4).toString('hex')}`;
const url = new URL(admin);
url.pathname = `/${name}`;

after(async () => {
  const c = new pg.Client({ connectionString: admin.toString() });
  await c.connect();
  await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  await c.end();
});

it('creates the database, applies each migration exactly once under concurrency, then does nothing', async () => {
  const results = await Promise.all([1, 2, 3].map(() => migrate(url.toString())));
  const applied = results.flatMap((r) => r.applied);
  assert.ok(applied.length >= 1);
  assert.equal(new Set(applied).size, applied.length, 'a migration was applied twice');
  const again = await migrate(url.toString());
  assert.deepEqual(again.applied, []);
  assert.deepEqual(again.skipped.sort(), [...new Set(applied)].sort());

  const c = new pg.Client({ connectionString: url.toString() });
  await c.connect();
  const tables = (await c.query(`SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1`)).rows.map((r) => r.tablename);
  await c.end();
  assert.deepEqual(tables, ['_migrations', 'api_keys', 'audit_events', 'datasets', 'epoch_metrics', 'job_transitions', 'jobs', 'model_aliases', 'models', 'webhook_deliveries', 'webhook_messages', 'webhooks']);
});
