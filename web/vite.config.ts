// Builds the dashboard into web/dist, served by the API at /ui/ (src/api/routes/ui.ts).
// `npm run web:dev` serves it with hot reload and proxies the API to MNIST_JOBS_URL.
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';
import preact from '@preact/preset-vite';

const api = process.env.MNIST_JOBS_URL ?? 'http://localhost:3000';

export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/ui/',
  plugins: [preact()],
  build: { outDir: 'dist', emptyOutDir: true, sourcemap: false, chunkSizeWarningLimit: 300 },
  server: { proxy: { '/v1': api, '/ready': api, '/openapi.json': api, '/predict': api } },
});
