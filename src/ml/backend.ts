// Chooses the TensorFlow.js backend once per process.
//
// TFJS_BACKEND=auto (default) tries, in order: @tensorflow/tfjs-node-gpu (only when a GPU is visible),
// @tensorflow/tfjs-node, `native` (the wasm backend with our oneDNN addon's kernels, when native/ was
// built), @tensorflow/tfjs-backend-wasm, then the pure-JS cpu backend. An explicit value
// (`tensorflow-gpu`/`gpu`, `tensorflow`, `native`, `wasm`, `cpu`) forces that backend and fails with
// an Error naming what to install. The tfjs-node packages are optional dependencies (their install
// downloads libtensorflow), so they are loaded with dynamic import() and may be absent.
import { existsSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import * as tf from './tf.js';
import { registerWasmKernels } from './kernels/index.js';
import { prepareSimdKernels } from './kernels/simd.js';
import { loadNativeAddon, registerNativeBackend } from './kernels/native/index.js';

export type BackendKind = 'tensorflow-gpu' | 'tensorflow' | 'native' | 'wasm' | 'cpu';

export interface BackendInfo {
  /** The tfjs backend name as `tf.getBackend()` reports it (`tensorflow`, `native`, `wasm`, `cpu`). */
  name: string;
  kind: BackendKind;
  /** wasm: threads XNNPACK uses; native: threads of the addon's OpenMP pool (both TFJS_WASM_THREADS). */
  threads?: number;
  /** wasm and native: whether the SIMD binary was loaded. */
  simd?: boolean;
}

const PACKAGES: Record<BackendKind, string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
  native: 'libdnnl-dev and libopenblas-dev, then run npm run build:native',
  wasm: '@tensorflow/tfjs-backend-wasm',
  cpu: '@tensorflow/tfjs-backend-cpu',
};

const require = createRequire(import.meta.url);

let current: Promise<BackendInfo> | undefined;
let currentRequest: string | undefined;

/** Normalises a TFJS_BACKEND value; throws on unknown names so typos are not silently `auto`. */
export function parseBackendRequest(value: string | undefined): BackendKind | 'auto' {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '' || v === 'auto') return 'auto';
  if (v === 'gpu' || v === 'tensorflow-gpu' || v === 'tfjs-node-gpu') return 'tensorflow-gpu';
  if (v === 'tensorflow' || v === 'node' || v === 'tfjs-node') return 'tensorflow';
  if (v === 'native' || v === 'wasm' || v === 'cpu') return v;
  throw new Error(`Unknown TFJS_BACKEND "${value}": use auto, tensorflow-gpu (gpu), tensorflow, native, wasm or cpu`);
}

/**
 * Selects and initialises the backend. Idempotent: later calls with the same request return the
 * first result without work; a different request after a successful one re-selects.
 */
export function initBackend(preferred: string | undefined = process.env.TFJS_BACKEND): Promise<BackendInfo> {
  const request = parseBackendRequest(preferred);
  if (current && currentRequest === request) return current;
  currentRequest = request;
  current = select(request);
  current.catch(() => {
    current = undefined;
    currentRequest = undefined;
  });
  return current;
}

/** The active backend's name (`tf.getBackend()`), e.g. for job results. */
export function backendName(): string {
  return tf.getBackend();
}

async function select(request: BackendKind | 'auto'): Promise<BackendInfo> {
  if (request !== 'auto') {
    const info = await tryBackend(request);
    if (typeof info === 'string') throw new Error(`TensorFlow.js backend "${request}" is not available: ${info}. Install ${PACKAGES[request]}.`);
    return info;
  }
  const reasons: string[] = [];
  for (const kind of ['tensorflow-gpu', 'tensorflow', 'native', 'wasm', 'cpu'] as const) {
    const info = await tryBackend(kind);
    if (typeof info !== 'string') return info;
    reasons.push(`${kind}: ${info}`);
  }
  throw new Error(`No TensorFlow.js backend could be initialised (${reasons.join('; ')})`);
}

/** Returns the backend info, or a reason string when it cannot be used. */
async function tryBackend(kind: BackendKind): Promise<BackendInfo | string> {
  try {
    switch (kind) {
      case 'tensorflow-gpu': {
        if (!gpuVisible()) return 'no NVIDIA GPU visible';
        // Both native packages register a backend named `tensorflow`; whichever loads first wins.
        await importOptional(PACKAGES['tensorflow-gpu']);
        return await activate('tensorflow', kind);
      }
      case 'tensorflow':
        await importOptional(PACKAGES.tensorflow);
        return await activate('tensorflow', kind);
      case 'native':
        return await initNative();
      case 'wasm':
        return await initWasm();
      case 'cpu':
        return await activate('cpu', kind);
    }
  } catch (err) {
    return err instanceof Error ? err.message : String(err);
  }
}

async function activate(name: string, kind: BackendKind): Promise<BackendInfo | string> {
  if (!tf.findBackendFactory(name)) return `backend "${name}" is not registered`;
  if (!(await tf.setBackend(name))) return `backend "${name}" failed to initialise`;
  await tf.ready();
  return { name, kind };
}

async function importOptional(pkg: string): Promise<void> {
  // A non-literal specifier keeps TypeScript from resolving packages that are optional.
  const specifier: string = pkg;
  try {
    await import(specifier);
  } catch (err) {
    const msg = err instanceof Error ? err.message : String(err);
    throw new Error(`cannot load ${pkg} (${msg.split('\n')[0]})`);
  }
}

/** A CUDA GPU is visible when the NVIDIA driver exposes a device. */
function gpuVisible(): boolean {
  try {
    if (existsSync('/proc/driver/nvidia/gpus') && readdirSync('/proc/driver/nvidia/gpus').length > 0) return true;
  } catch {
    // unreadable procfs: fall through to the device node check
  }
  return existsSync('/dev/nvidia0');
}

let wasmPrepared = false;

/** Threads for the wasm backend: TFJS_WASM_THREADS, else the cores Node may use (capped at 4). */
export function wasmThreadsRequested(value = process.env.TFJS_WASM_THREADS): number {
  const n = value === undefined || value.trim() === '' || value === 'auto' ? os.availableParallelism() : Number(value);
  if (!Number.isInteger(n) || n < 1) throw new Error(`TFJS_WASM_THREADS must be a positive integer or auto, got "${value}"`);
  return Math.min(n, 4);
}

async function initWasm(threads = wasmThreadsRequested()): Promise<BackendInfo | string> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (!wasmPrepared) {
    wasmPrepared = true;
    if (threads > 1) {
      wasm.setThreadsCount(threads);
      replaceWasmFactory(wasm, threads);
    } else {
      // The .wasm binaries sit beside the package's entry file; resolving it makes loading
      // independent of the process's cwd and of how the package is hoisted.
      wasm.setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/'));
    }
  }
  // Our kernels must be registered before the backend initialises so their setup runs with it.
  registerWasmKernels();
  const info = await activate('wasm', 'wasm');
  if (typeof info === 'string') return info;
  try {
    await prepareSimdKernels(tf.backend() as InstanceType<WasmPackage['BackendWasm']>);
  } catch (err) {
    // The kernels fall back to JS loops; slower, same results.
    process.emitWarning(`wasm SIMD training kernels unavailable: ${err instanceof Error ? err.message : String(err)}`);
  }
  return { ...info, threads: wasm.getThreadsCount(), simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) };
}

/**
 * The native backend: the wasm backend (initialised first: its heap holds the tensors) with the
 * addon's kernels for convolutions, matrix products and max-pooling (src/ml/kernels/native/).
 */
async function initNative(): Promise<BackendInfo | string> {
  const addon = loadNativeAddon();
  if (typeof addon === 'string') return addon;
  // The wasm module underneath runs single-threaded: on this backend it only holds the tensors and
  // runs the light kernels (reshapes, small reductions, the loss), while the addon's OpenMP pool does
  // the heavy ones with the requested threads. Its threaded build would pre-spawn 8 worker isolates
  // (PTHREAD_POOL_SIZE): measured ~130 MiB of RSS at start-up, which made a native training's peak
  // RSS exceed the wasm backend's. (Already initialised threaded, e.g. after TFJS_BACKEND=wasm in the
  // same process, it stays as it is.)
  const wasm = await initWasm(1);
  if (typeof wasm === 'string') return `the wasm backend it runs on failed: ${wasm}`;
  const threads = wasmThreadsRequested();
  registerNativeBackend(tf.backend() as InstanceType<WasmPackage['BackendWasm']>, addon, threads);
  const info = await activate('native', 'native');
  if (typeof info === 'string') return info;
  return { ...info, threads, simd: wasm.simd };
}

type WasmPackage = typeof import('@tensorflow/tfjs-backend-wasm');
type WasmModule = ConstructorParameters<WasmPackage['BackendWasm']>[0];

/**
 * Multi-threaded wasm in Node. The package only enables its threaded-SIMD build in browsers
 * (WASM_HAS_MULTITHREAD_SUPPORT is false under Node, tfjs issue #3830): its loader hands Emscripten
 * the pthread worker as a Blob URL, which Node's worker_threads cannot start. The Emscripten module
 * itself supports Node, so we instantiate it ourselves with the worker script written to a real file
 * and register it as the `wasm` backend, with the package's own BackendWasm class and kernels.
 * The module pre-spawns 8 worker threads (its PTHREAD_POOL_SIZE) of which XNNPACK uses `threads`.
 */
function replaceWasmFactory(wasm: WasmPackage, threads: number): void {
  const dir = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '..', 'wasm-out');
  const script = join(dir, 'tfjs-backend-wasm-threaded-simd.js');
  const factory = require(script) as (config: object) => Promise<WasmModule & Record<string, unknown>>;
  const { wasmWorkerContents } = require(join(dir, 'tfjs-backend-wasm-threaded-simd.worker.js')) as { wasmWorkerContents: string };
  const workerFile = join(os.tmpdir(), `tfjs-backend-wasm-${wasm.version_wasm}-pthread-${process.pid}.cjs`);
  const packageFactory = tf.findBackendFactory('wasm');
  const threaded = async () => {
    // The worker source holds "\n" escapes that became newlines in its template literal (the
    // package undoes this the same way before making its Blob).
    writeFileSync(workerFile, wasmWorkerContents.replace(/\n/g, '\\n'));
    // The C++ side caps its thread pool at half the logical cores Emscripten reports (it assumes
    // hyper-threading); report enough cores while the module initialises so `threads` are used.
    const cpus = os.cpus;
    os.cpus = () => Array.from({ length: 2 * threads }, () => cpus()[0]);
    let mod: WasmModule & Record<string, unknown>;
    try {
      mod = await factory({
        locateFile: (file: string) => (file.endsWith('.worker.js') ? workerFile : join(dir, file)),
        mainScriptUrlOrBlob: script,
      });
    } finally {
      os.cpus = cpus;
      // All pool workers have loaded the script by now.
      rmSync(workerFile, { force: true });
    }
    const cwrap = mod.cwrap as (name: string, ret: string | null, args: string[]) => unknown;
    // The same bindings the package's loader adds (backend_wasm.js init()).
    (mod as unknown as { tfjs: object }).tfjs = {
      init: cwrap('init', null, []),
      initWithThreadsCount: cwrap('init_with_threads_count', null, ['number']),
      getThreadsCount: cwrap('get_threads_count', 'number', []),
      registerTensor: cwrap('register_tensor', null, ['number', 'number', 'number']),
      disposeData: cwrap('dispose_data', null, ['number']),
      dispose: cwrap('dispose', null, []),
    };
    const backend = new wasm.BackendWasm(mod); // starts XNNPACK's thread pool
    // Emscripten keeps running pthreads' workers referenced, which would keep the process alive
    // after its work is done; the pool threads only ever serve the main thread, so let them go.
    const pthread = mod.PThread as { runningWorkers: Array<{ unref(): void }>; unusedWorkers: Array<{ unref(): void }> };
    for (const worker of [...pthread.runningWorkers, ...pthread.unusedWorkers]) worker.unref();
    return backend;
  };
  tf.removeBackend('wasm');
  tf.registerBackend(
    'wasm',
    async () => {
      try {
        return await threaded();
      } catch (err) {
        // E.g. no writable temp dir: run single-threaded rather than lose the wasm backend.
        process.emitWarning(`multi-threaded wasm unavailable, using 1 thread: ${err instanceof Error ? err.message : String(err)}`);
        wasm.setThreadsCount(1);
        wasm.setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/'));
        return packageFactory();
      }
    },
    2,
  );
}
