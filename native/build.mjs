// Builds the optional native addon (native/build/Release/mnist_native.node) with node-gyp.
//   node native/build.mjs            at install (postinstall): a failure prints one line and exits 0
//   node native/build.mjs --strict   (npm run build:native) a failure prints the compiler's output, exits 1
// Without the addon the service runs on the wasm backend; with it, TFJS_BACKEND=auto picks `native`.
// It needs oneDNN and OpenBLAS headers (Debian: apt-get install libdnnl-dev libopenblas-dev) and a
// C++ toolchain with python3 for node-gyp. Node's own headers are taken from beside the node binary
// (Debian's nodejs and the official builds both ship them) so nothing is downloaded.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const strict = process.argv.includes('--strict');
const here = dirname(fileURLToPath(import.meta.url));

function skip(reason, detail = '') {
  if (strict) {
    if (detail) process.stderr.write(detail);
    console.error(`native addon: build failed: ${reason}`);
    process.exit(1);
  }
  console.log(`native addon not built (${reason}); the service will use the wasm backend. See README "Native backend".`);
  process.exit(0);
}

if (process.env.MNIST_NATIVE_BUILD === 'skip') skip('MNIST_NATIVE_BUILD=skip');
const headers = ['/usr/include', '/usr/local/include'];
if (!headers.some((d) => existsSync(join(d, 'oneapi/dnnl/dnnl.hpp')))) skip('oneDNN headers missing: apt-get install libdnnl-dev libopenblas-dev');

function nodeGyp() {
  const candidates = [
    process.env.npm_config_node_gyp,
    process.env.npm_execpath && join(dirname(process.env.npm_execpath), '../node_modules/node-gyp/bin/node-gyp.js'),
    join(dirname(process.execPath), '../lib/node_modules/npm/node_modules/node-gyp/bin/node-gyp.js'),
  ];
  for (const c of candidates) if (c && existsSync(c)) return c;
  try {
    return createRequire(import.meta.url).resolve('node-gyp/bin/node-gyp.js');
  } catch {
    return undefined;
  }
}

const gyp = nodeGyp();
if (!gyp) skip('node-gyp not found (it ships with npm)');
const args = [gyp, 'rebuild'];
// Beside the node binary first; else Debian's (libnode-dev, /usr), as in the Docker image whose
// official Node binary ships without headers: the addon uses only N-API (NAPI_VERSION=8), whose ABI
// holds across Node versions, so headers of another Node version build a working addon.
const nodeDir = [dirname(dirname(process.execPath)), '/usr'].find((d) => existsSync(join(d, 'include/node/node_api.h')));
if (nodeDir) args.push(`--nodedir=${nodeDir}`);
const t0 = Date.now();
const res = spawnSync(process.execPath, args, { cwd: here, encoding: 'utf8', env: { ...process.env, JOBS: process.env.JOBS ?? '2' } });
if (res.status !== 0) {
  const lines = `${res.stdout ?? ''}${res.stderr ?? ''}`.split('\n');
  const first = lines.find((l) => /error|not found|No such file/i.test(l) && !/^gyp info/.test(l))?.trim() ?? `node-gyp exited ${res.status}`;
  skip(first.slice(0, 200), `${res.stdout}${res.stderr}`);
}
console.log(`native addon built in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${join(here, 'build/Release/mnist_native.node')}`);
