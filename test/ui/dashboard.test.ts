// The dashboard in a real headless Chromium against the real service (API + workers, Postgres, Redis):
// prepare a dataset and train from the forms, watch the progress end, see the curves and the confusion
// matrix, draw a digit and get a prediction with its confidence (and a scribble flagged as low
// confidence), move an alias, see a real sweep's leaderboard and parallel coordinates; no console
// error on any page. Prints the time a finished job page takes to show.
// SCREENSHOTS=docs/screenshots npm test -- test/ui/dashboard.test.ts also saves the README's screenshots.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startService } from '../helpers.js';
import { UI_DIR } from '../../src/api/routes/ui.js';
import { toMnistPixels } from '../../src/serving/inputs.js';
import { TrainParams } from '../../src/jobs/contract.js';

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const skip = !existsSync(CHROMIUM)
  ? `no Chromium at ${CHROMIUM} (apt-get install -y chromium)`
  : !existsSync(path.join(UI_DIR, 'index.html'))
    ? 'the UI is not built (npm run web:build)'
    : false;
if (skip) console.log(`# skipping the browser tests: ${skip}`);

const shots = process.env.SCREENSHOTS;
// A loaded CI machine can take longer than the default deadline to load a model for its first answer.
process.env.PREDICT_TIMEOUT_MS ??= '60000';

describe('web dashboard in Chromium', { skip }, () => {
  let svc: Awaited<ReturnType<typeof startService>>;
  let base = '';
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  let datasetJob = '';
  let trainJob = '';

  before(async () => {
    svc = await startService({ api: true, worker: true });
    await svc.app.listen({ port: 0, host: '127.0.0.1' });
    base = `http://127.0.0.1:${(svc.app.server.address() as AddressInfo).port}`;
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'],
    });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.on('console', (m) => m.type() === 'error' && consoleErrors.push(`${page.url()}: ${m.text()}`));
    page.on('pageerror', (e) => consoleErrors.push(`${page.url()}: ${e.message}`));
    if (shots) await mkdir(shots, { recursive: true });
  });
  after(async () => {
    await browser?.close();
    await svc?.close();
  });
  const shot = async (name: string, p = page) => {
    if (shots) await p.screenshot({ path: path.join(shots, `${name}.png`), fullPage: true });
  };

  const api = async (method: string, url: string, body?: unknown) => {
    const res = await fetch(`${base}${url}`, {
      method,
      headers: body === undefined ? {} : { 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const json = await res.json();
    assert.ok(res.ok, `${method} ${url}: ${res.status} ${JSON.stringify(json)}`);
    return json;
  };
  /** Draws a stroke through points given on the pad's 280×280 grid, and returns the /v1/predict answer it brings. */
  const draw = async (points: number[][]) => {
    const pad = page.getByLabel(/Drawing area/);
    const box = (await pad.boundingBox())!;
    const at = (x: number, y: number) => [box.x + (x * box.width) / 280, box.y + (y * box.height) / 280] as const;
    const answer = page.waitForResponse((r) => r.url().endsWith('/v1/predict') && r.request().method() === 'POST', { timeout: 60_000 });
    await page.mouse.move(...at(points[0]![0]!, points[0]![1]!));
    await page.mouse.down();
    for (const [x, y] of points.slice(1)) await page.mouse.move(...at(x!, y!), { steps: 5 });
    await page.mouse.up();
    const res = await answer;
    assert.equal(res.status(), 200, await res.text());
    return {
      sent: (res.request().postDataJSON() as { inputs: number[][] }).inputs[0]!,
      answer: (await res.json()) as { modelId: string; predictions: { class: number; probabilities: number[]; confidence: number; lowConfidence: boolean }[] },
    };
  };
  /** What the page shows of the prediction, once it shows the class of `answer`. */
  const shownPrediction = async (cls: number) => {
    const predicted = page.getByTestId('predicted-class');
    await predicted.filter({ hasText: String(cls) }).waitFor({ timeout: 30_000 });
    return {
      confidence: await page.getByTestId('confidence').textContent(),
      flagged: await page.getByRole('status').filter({ hasText: 'Low confidence' }).count(),
    };
  };

  it('serves the app at /ui/ with history routing, / redirecting there', async () => {
    const root = await fetch(`${base}/`, { redirect: 'manual' });
    assert.equal(root.status, 302);
    assert.equal(root.headers.get('location'), '/ui/');
    const deep = await fetch(`${base}/ui/jobs/00000000-0000-4000-8000-000000000000`);
    assert.equal(deep.status, 200);
    assert.match(await deep.text(), /<div id="app">/);
    assert.equal((await fetch(`${base}/ui/assets/missing.js`)).status, 404);
  });

  it('prepares a dataset from the form and shows its progress reach the end', async () => {
    await page.goto(`${base}/`);
    await page.getByRole('heading', { name: 'Jobs', exact: true }).waitFor();
    await page.getByRole('tab', { name: 'Prepare a dataset' }).click();
    await page.getByLabel('Source').selectOption('mnist');
    await page.getByLabel('Name (optional)').fill('e2e mnist');
    await page.getByRole('button', { name: 'Prepare dataset' }).click();
    await page.waitForURL(/\/ui\/jobs\/[0-9a-f-]{36}$/);
    datasetJob = page.url().split('/').pop()!;
    await page.locator('h1 .badge-succeeded').waitFor({ timeout: 120_000 });
    assert.equal(await page.getByRole('progressbar').first().getAttribute('aria-valuenow'), '100');
    await page
      .getByRole('link', { name: datasetJob.slice(0, 8) })
      .first()
      .waitFor();
  });

  it('trains an mlp from the form: live curves, then test metrics and the confusion matrix', async () => {
    await page.goto(`${base}/ui/`);
    await page.getByRole('tab', { name: 'Train' }).click();
    // The form proposes what the job would do by default.
    assert.equal(await page.getByLabel('Architecture').inputValue(), TrainParams.properties.architecture.default);
    assert.equal(await page.getByLabel('Epochs').inputValue(), String(TrainParams.properties.epochs.default));
    assert.equal(await page.getByLabel('Learning rate').inputValue(), String(TrainParams.properties.optimizer.default.learningRate));
    await page.getByLabel('Dataset').selectOption(datasetJob);
    await page.getByLabel('Architecture').selectOption('mlp');
    await page.getByLabel('Epochs').fill('3');
    await page.getByLabel('Train subset (optional)').fill('3000');
    await page.getByLabel('Test subset (optional)').fill('1000');
    await page.getByRole('button', { name: 'Start training' }).click();
    await page.waitForURL(/\/ui\/jobs\/[0-9a-f-]{36}$/);
    trainJob = page.url().split('/').pop()!;
    await page.locator('h1 .badge-succeeded').waitFor({ timeout: 180_000 });
    assert.equal(await page.getByRole('progressbar').first().getAttribute('aria-valuenow'), '100');
    // Three uPlot charts (loss, accuracy, learning rate), each with its canvas and 3 epochs.
    await page.locator('.uplot canvas').nth(2).waitFor();
    const lossLabel = await page.locator('.chart-box').first().getAttribute('aria-label');
    assert.match(lossLabel!, /train loss last \d/);
    const acc = await page.getByTestId('test-accuracy').textContent();
    assert.match(acc!, /^\d+\.\d\d %$/);
    assert.ok(parseFloat(acc!) > 80, `test accuracy ${acc}`);
    const matrix = page.getByRole('table', { name: /Confusion matrix/ });
    assert.equal(await matrix.locator('tbody tr').count(), 10);
    const total = (await matrix.locator('tbody td').allTextContents()).reduce((a, b) => a + Number(b), 0);
    assert.equal(total, 1000);
    await page.locator('.digits li').first().waitFor({ timeout: 30_000 }); // misclassified grid
    const wrong = await (await fetch(`${base}/v1/models/${trainJob}/misclassified?limit=5`)).json();
    assert.ok(wrong.items.length > 0 && wrong.items.length <= 5 && wrong.misclassified >= wrong.items.length, JSON.stringify(wrong).slice(0, 300));
    for (const m of wrong.items) {
      assert.notEqual(m.label, m.predicted);
      assert.equal(Buffer.from(m.pixels, 'base64').length, 784);
    }
    assert.equal((await fetch(`${base}/v1/models/00000000-0000-4000-8000-000000000000/misclassified`)).status, 404);
    await shot('job');
  });

  it('shows a job page quickly', async () => {
    const t0 = performance.now();
    await page.goto(`${base}/ui/jobs/${trainJob}`);
    await page.getByRole('table', { name: /Confusion matrix/ }).waitFor();
    await page.locator('.uplot canvas').first().waitFor();
    const ms = performance.now() - t0;
    console.log(`# job page (train, finished) shown in ${Math.round(ms)} ms`);
    assert.ok(ms < 5000, `job page took ${ms} ms`);
  });

  it('draws a digit in the playground: the prediction with its confidence, the 28×28 image as the server makes it', async () => {
    await page.goto(`${base}/ui/playground`);
    await page.getByLabel(/Drawing area/).waitFor();
    // A "7": a top bar, then a diagonal down to the left.
    const { sent, answer } = await draw([
      [80, 60],
      [140, 60],
      [200, 60],
      [170, 130],
      [140, 200],
      [120, 240],
    ]);
    const p = answer.predictions[0]!;
    assert.equal(typeof p.confidence, 'number');
    assert.equal(p.lowConfidence, p.confidence < 0.8);
    const shown = await shownPrediction(p.class);
    assert.equal(shown.confidence, `${(p.confidence * 100).toFixed(1)} % confident`);
    assert.equal(shown.flagged, p.lowConfidence ? 1 : 0);
    assert.equal(await page.getByRole('list', { name: 'Class probabilities' }).locator('li').count(), 10);
    await page.getByRole('img', { name: 'The 28×28 image the model saw' }).waitFor();

    // The browser's 28×28 image (the recipe of src/serving/mnist-recipe.ts, fitted by the canvas) against
    // the server's (the same recipe, fitted by sharp) from the very drawing as a PNG.
    const png = await page.getByLabel(/Drawing area/).evaluate((c) => (c as HTMLCanvasElement).toDataURL('image/png'));
    const server = await toMnistPixels(png);
    let sum = 0;
    let max = 0;
    for (let i = 0; i < 784; i++) {
      const d = Math.abs(server[i]! - sent[i]!);
      sum += d;
      max = Math.max(max, d);
    }
    console.log(`# playground 28×28 vs the server's: mean |Δ| ${((sum / 784) * 255).toFixed(2)} grey levels, max ${(max * 255).toFixed(0)}`);
    assert.ok(sum / 784 < 4 / 255, `mean difference ${(sum / 784) * 255} grey levels`);
    await shot('playground');
  });

  it('flags a scribble as low confidence in the playground', async () => {
    await page.getByRole('button', { name: 'Clear' }).click();
    // Not a digit: a dense zigzag over most of the pad.
    const zigzag: number[][] = [];
    for (let i = 0; i <= 8; i++) zigzag.push([i % 2 ? 250 : 30, 30 + i * 27], [140, 40 + i * 25]);
    const { answer } = await draw(zigzag);
    const p = answer.predictions[0]!;
    assert.equal(p.lowConfidence, true, `a scribble predicted ${p.class} at ${p.confidence}`);
    const shown = await shownPrediction(p.class);
    assert.equal(shown.confidence, `${(p.confidence * 100).toFixed(1)} % confident`);
    assert.equal(shown.flagged, 1);
    await shot('playground-low');
  });

  it('points the production alias at the model from its page', async () => {
    await page.goto(`${base}/ui/models`);
    await page
      .getByRole('link', { name: trainJob.slice(0, 8) })
      .first()
      .click();
    await page.waitForURL(`${base}/ui/models/${trainJob}`);
    await page.getByLabel('Alias', { exact: true }).fill('production');
    await page.getByRole('button', { name: 'Point production here' }).click();
    await page.getByRole('status').filter({ hasText: 'production now points at' }).waitFor();
    const model = await (await fetch(`${base}/v1/models/${trainJob}`)).json();
    assert.deepEqual(model.aliases, ['production']);
    await page.locator('.tag', { hasText: 'production' }).first().waitFor();
    await shot('model');
  });

  it('lists the dataset with its split counts, and the model with its test accuracy and alias', async () => {
    await page.goto(`${base}/ui/datasets`);
    const datasets = page.getByRole('table', { name: 'Prepared datasets, newest first' });
    const dsRow = datasets.locator('tbody tr', { has: page.getByRole('link', { name: datasetJob.slice(0, 8) }) });
    await dsRow.waitFor();
    assert.deepEqual(await datasets.locator('thead th').allTextContents(), ['Dataset', 'Name', 'Source', 'train', 'val', 'test', 'Size', 'Created']);
    const ds = await dsRow.locator('td').allTextContents();
    assert.deepEqual(ds.slice(1, 3), ['e2e mnist', 'mnist']);
    assert.deepEqual(ds.slice(3, 6).map((c) => c.replace(/\D/g, '')), ['54000', '6000', '10000']);

    await page.goto(`${base}/ui/models`);
    const models = page.getByRole('table', { name: 'Models, newest first' });
    const modelRow = models.locator('tbody tr', { has: page.getByRole('link', { name: trainJob.slice(0, 8) }) });
    await modelRow.waitFor();
    const model = await api('GET', `/v1/models/${trainJob}`);
    const cells = await modelRow.locator('td').allTextContents();
    assert.deepEqual(cells.slice(1, 6), ['mlp', `${(model.metrics.test.accuracy * 100).toFixed(2)} %`, 'production', datasetJob.slice(0, 8), '–']);
  });

  it('renders every page without a console error, on a desktop and on a phone', async () => {
    const pages = [
      '/ui/',
      `/ui/jobs/${datasetJob}`,
      `/ui/jobs/${trainJob}`,
      `/ui/compare?ids=${trainJob}`,
      '/ui/datasets',
      `/ui/datasets/${datasetJob}`,
      '/ui/models',
      `/ui/models/${trainJob}`,
      '/ui/playground',
      '/ui/no-such-page',
    ];
    for (const p of pages) {
      await page.goto(`${base}${p}`);
      await page.locator('main h1').waitFor();
      await page.waitForLoadState('networkidle');
    }
    await page.goto(`${base}/ui/`);
    await page.locator('tr[data-job]').first().waitFor();
    await shot('jobs');
    await page.goto(`${base}/ui/datasets/${datasetJob}`);
    await page.locator('img.preview').waitFor();
    await shot('dataset');
    // A second run (through the API: the form was tested above) to overlay on the first.
    const second = await (
      await fetch(`${base}/v1/jobs`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({
          type: 'train',
          params: {
            datasetId: datasetJob,
            architecture: 'mlp',
            epochs: 3,
            optimizer: { type: 'sgd', learningRate: 0.05 },
            subset: { train: 3000, test: 1000 },
          },
        }),
      })
    ).json();
    const deadline = Date.now() + 120_000;
    while ((await (await fetch(`${base}/v1/jobs/${second.id}`)).json()).status !== 'succeeded') {
      assert.ok(Date.now() < deadline, 'the second run did not finish');
      await new Promise((r) => setTimeout(r, 250));
    }
    await page.goto(`${base}/ui/compare?ids=${trainJob},${second.id}`);
    await page.getByRole('table', { name: 'Metrics of the chosen runs' }).locator('thead th').nth(2).waitFor();
    assert.equal(await page.locator('.uplot').first().locator('.u-legend .u-series').count(), 3); // x + two runs
    await shot('compare');

    const phone = await browser.newPage({ viewport: { width: 390, height: 844 }, hasTouch: true });
    phone.on('console', (m) => m.type() === 'error' && consoleErrors.push(`phone ${phone.url()}: ${m.text()}`));
    phone.on('pageerror', (e) => consoleErrors.push(`phone ${phone.url()}: ${e.message}`));
    for (const p of ['/ui/', `/ui/jobs/${trainJob}`, '/ui/playground']) {
      await phone.goto(`${base}${p}`);
      await phone.locator('main h1').waitFor();
      await phone.waitForLoadState('networkidle');
      // Nothing wider than the screen but the scrollable tables.
      const [overflow, culprits] = await phone.evaluate(() => {
        const width = document.documentElement.clientWidth;
        const wide = [...document.querySelectorAll('body *')].filter(
          (el) => el.getBoundingClientRect().right > width + 1 && !el.parentElement?.closest('.scroll-x'),
        );
        return [
          document.documentElement.scrollWidth - width,
          wide.slice(0, 8).map((el) => `${el.tagName}.${el.className}:${Math.round(el.getBoundingClientRect().width)}`),
        ] as const;
      });
      assert.ok(overflow <= 1, `${p} is ${overflow}px wider than a phone screen: ${culprits.join(', ')}`);
    }
    await phone.goto(`${base}/ui/jobs/${trainJob}`);
    await phone.getByRole('table', { name: /Confusion matrix/ }).waitFor();
    await shot('phone-job', phone);
    await phone.close();
    assert.deepEqual(consoleErrors, []);
  });

  it("a sweep's job page: the leaderboard of its trials and the parallel coordinates", async () => {
    const sweep = await api('POST', '/v1/jobs', {
      type: 'sweep',
      params: {
        trial: { type: 'train', params: { datasetId: datasetJob, architecture: 'mlp', epochs: 2, subset: { train: 1500, val: 500, test: 500 } } },
        space: { 'optimizer.learningRate': { logUniform: [0.0003, 0.03] }, batchSize: { choice: [32, 64, 128] } },
        algorithm: 'random',
        maxTrials: 3,
        maxParallel: 2,
        seed: 7,
      },
    });
    await page.goto(`${base}/ui/jobs/${sweep.id}`);
    const board = page.getByRole('table', { name: 'Leaderboard' });
    await board.locator('tbody tr').first().waitFor({ timeout: 60_000 });
    await page.locator('h1 .badge-succeeded').waitFor({ timeout: 240_000 });
    const result = (await api('GET', `/v1/jobs/${sweep.id}`)).result;
    assert.equal(result.leaderboard.length, 3);
    await board.locator('tbody tr').nth(2).waitFor();
    const rows = await board.locator('tbody tr').evaluateAll((trs) => trs.map((tr) => [...tr.querySelectorAll('td')].map((td) => td.textContent!.trim())));
    const head = await board.locator('thead th').allTextContents();
    assert.deepEqual(head, ['rank', 'trial', 'status', 'batchSize', 'optimizer.learningRate', 'valAccuracy', 'epochs', 'test accuracy']);
    for (const [i, t] of result.leaderboard.entries()) {
      assert.deepEqual(rows[i], [
        String(i + 1),
        t.trialId.slice(0, 8),
        'succeeded',
        String(t.params.batchSize),
        String(Number(t.params['optimizer.learningRate'].toPrecision(3))),
        String(Number(t.objective.toFixed(4))),
        '2',
        `${(t.testAccuracy * 100).toFixed(2)} %`,
      ]);
    }
    await page.getByText(`Best: trial ${result.best.trialId.slice(0, 8)}, valAccuracy ${Number(result.best.objective.toFixed(4))}`).waitFor();
    await page.getByText('3 of 3').waitFor(); // trials done
    const chart = page.getByRole('img', { name: /^Parallel coordinates: 3 trials over batchSize, optimizer\.learningRate, valAccuracy/ });
    assert.equal(await chart.locator('polyline').count(), 3);
    await shot('sweep');

    const t0 = performance.now();
    await page.goto(`${base}/ui/jobs/${sweep.id}`);
    await board.locator('tbody tr').nth(2).waitFor();
    await chart.locator('polyline').nth(2).waitFor();
    console.log(`# job page (sweep, finished, 3 trials) shown in ${Math.round(performance.now() - t0)} ms`);
    assert.deepEqual(consoleErrors, []);
  });
});
