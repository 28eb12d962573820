// `npm run db:migrate`: applies the committed migrations to DATABASE_URL (see src/shared/migrate.ts).
import { loadConfig } from '../src/shared/config.js';
import { migrate } from '../src/shared/migrate.js';

const res = await migrate(loadConfig().DATABASE_URL, (m) => console.log(m));
console.log(`migrations: ${res.applied.length} applied, ${res.skipped.length} already applied`);
