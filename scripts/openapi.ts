// Writes openapi.yaml (the public contract) from the routes' own schemas: `npm run openapi`.
// `--check` exits non-zero when the committed file differs from what the server would serve.
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { buildApp } from '../src/api/app.js';
import { loadConfig } from '../src/shared/config.js';
import { createLogger } from '../src/shared/logger.js';

export const OPENAPI_PATH = fileURLToPath(new URL('../openapi.yaml', import.meta.url));

/** The document the server serves at /openapi.json, built without connecting to anything. */
export async function buildOpenApi(): Promise<unknown> {
  const unused = new Proxy({}, { get: () => { throw new Error('not connected: building the document only'); } });
  const app = await buildApp({
    config: loadConfig(),
    db: unused as never,
    queues: unused as never,
    webhooks: { queue: undefined } as never, // the queue UI lists no queues here
    events: unused as never,
    jobs: unused as never,
    logger: createLogger('silent'),
    predict: unused as never,
    backendName: () => null,
    loadedModels: () => [],
    onModelChanged: () => {},
  });
  await app.ready();
  const doc = app.swagger();
  await app.close();
  return doc;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const yaml = YAML.stringify(await buildOpenApi(), { aliasDuplicateObjects: false });
  if (process.argv.includes('--check')) {
    const current = await readFile(OPENAPI_PATH, 'utf8').catch(() => '');
    if (current !== yaml) {
      console.error('openapi.yaml is out of date: run npm run openapi');
      process.exit(1);
    }
  } else {
    await writeFile(OPENAPI_PATH, yaml);
    console.log(`wrote ${OPENAPI_PATH}`);
  }
}
