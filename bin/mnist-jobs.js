#!/usr/bin/env node
// The `mnist-jobs` command: runs src/cli/main.ts through tsx (the project runs TypeScript directly).
import { register } from 'tsx/esm/api';

register();
await import('../src/cli/main.ts');
