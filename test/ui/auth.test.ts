// The dashboard with API keys on: it asks for a key once, refuses a bad one, and disables what the
// key's role may not do. Needs the API-keys feature (issue 10): skipped while /ready has no `auth: "on"`.
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Browser, Page } from 'playwright-core';
import { startService } from '../helpers.js';
import { UI_DIR } from '../../src/api/routes/ui.js';

const READ_KEY = 'ui-test-read-key-0123456789abcdef';
const ADMIN_KEY = 'ui-test-admin-key-0123456789abcdef';
process.env.API_KEYS = `read:${READ_KEY},admin:${ADMIN_KEY}`;

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const svc = await startService({ api: true, worker: false });
await svc.app.listen({ port: 0, host: '127.0.0.1' });
const base = `http://127.0.0.1:${(svc.app.server.address() as AddressInfo).port}`;
const ready = await (await fetch(`${base}/ready`)).json();
after(async () => {
  // Revoke the run-time keys made here: later test files share the database and run open.
  await svc.db.apiKey.updateMany({ where: { revokedAt: null }, data: { revokedAt: new Date() } });
  await svc.close();
});

const skip =
  ready.auth !== 'on'
    ? 'the API runs without keys (/ready auth is not "on"): needs the API-keys feature (issue 10)'
    : !existsSync(CHROMIUM)
      ? `no Chromium at ${CHROMIUM}`
      : !existsSync(path.join(UI_DIR, 'index.html'))
        ? 'the UI is not built (npm run web:build)'
        : false;

describe('dashboard with API keys', { skip }, () => {
  let browser: Browser;
  let page: Page;
  const consoleErrors: string[] = [];
  before(async () => {
    const { chromium } = await import('playwright-core');
    browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
    page = await browser.newPage();
    page.on('pageerror', (e) => consoleErrors.push(e.message));
  });
  after(() => browser?.close());

  const enterKey = async (key: string) => {
    await page.getByRole('dialog', { name: 'API key' }).waitFor();
    await page.getByLabel('Key', { exact: true }).fill(key);
    await page.getByRole('button', { name: 'Use key' }).click();
  };

  it('asks for a key and refuses a bad one', async () => {
    await page.goto(`${base}/ui/`);
    await enterKey('not-a-key-at-all-000000000000');
    await page.getByRole('dialog').getByRole('alert').filter({ hasText: 'UNAUTHENTICATED' }).waitFor();
    assert.equal(await page.locator('main').count(), 0); // no page behind the prompt, no refused requests
  });

  it('with a read key, submitting and moving aliases are disabled', async () => {
    await page.getByLabel('Key', { exact: true }).fill(READ_KEY);
    await page.getByRole('button', { name: 'Use key' }).click();
    await page.getByText('key: read').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Prepare dataset' }).isDisabled(), true);
    await page.goto(`${base}/ui/playground`);
    assert.equal(await page.locator('input[type=file]').isDisabled(), true);
  });

  it('with an admin key, everything is enabled; the key stays for the session', async () => {
    await page.goto(`${base}/ui/`);
    await page.getByRole('button', { name: 'change key' }).click();
    await enterKey(ADMIN_KEY);
    await page.getByText('key: admin').waitFor();
    assert.equal(await page.getByRole('button', { name: 'Prepare dataset' }).isDisabled(), false);
    await page.goto(`${base}/ui/datasets`);
    await page.getByText('key: admin').waitFor();
    assert.deepEqual(consoleErrors, []);
  });
});
