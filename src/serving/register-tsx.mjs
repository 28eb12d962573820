// Registers tsx's module hooks in the worker thread that imports this file first (execArgv
// `--import`), so that its TypeScript entry file can load; see inference-pool.ts for why.
import { register } from 'tsx/esm/api';

register();
