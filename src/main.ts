// Entry point. `tsx src/main.ts [all|api|worker]`: the API and the workers in one process by
// default, or either alone to scale them apart.
import { migrate } from '../scripts/migrate.js';
import { ConfigError, loadConfig } from './shared/config.js';
import { createLogger } from './shared/logger.js';
import { createService } from './service.js';

const mode = process.argv[2] ?? 'all';
if (!['all', 'api', 'worker'].includes(mode)) {
  console.error(`usage: main.ts [all|api|worker] (got "${mode}")`);
  process.exit(2);
}

let config;
try {
  config = loadConfig();
} catch (err) {
  if (err instanceof ConfigError) {
    console.error(err.message);
    process.exit(2);
  }
  throw err;
}
const logger = createLogger(config.LOG_LEVEL);

if (process.env.MIGRATE_ON_START !== 'false') {
  // Safe when several processes start at once: the runner holds an advisory lock.
  const res = await migrate(config.DATABASE_URL);
  if (res.applied.length) logger.info({ applied: res.applied }, 'database migrated');
}

const service = await createService(config, logger, { api: mode !== 'worker', worker: mode !== 'api' });
if (service.app) {
  const address = await service.app.listen({ port: config.PORT, host: config.HOST });
  logger.info({ address, docs: `${address}/docs` }, 'API listening');
}

let stopping = false;
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, async () => {
    if (stopping) process.exit(1);
    stopping = true;
    logger.info({ signal }, 'shutting down: finishing requests, releasing jobs');
    await service.close();
    process.exit(0);
  });
}
