// Chooses the TensorFlow.js backend once per process.
//
// TFJS_BACKEND=auto (default) tries, in order: @tensorflow/tfjs-node-gpu (only when a GPU is visible),
// @tensorflow/tfjs-node, @tensorflow/tfjs-backend-wasm, then the pure-JS cpu backend. An explicit
// value (`tensorflow-gpu`/`gpu`, `tensorflow`, `wasm`, `cpu`) forces that backend and fails with an
// Error naming the package to install. The native packages are optional dependencies (their install
// downloads libtensorflow), so they are loaded with dynamic import() and may be absent.
import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from './tf.js';
import { registerWasmKernels } from './kernels/index.js';

export type BackendKind = 'tensorflow-gpu' | 'tensorflow' | 'wasm' | 'cpu';

export interface BackendInfo {
  /** The tfjs backend name as `tf.getBackend()` reports it (`tensorflow`, `wasm`, `cpu`). */
  name: string;
  kind: BackendKind;
  /** wasm only: worker threads used by XNNPACK (1 in Node, see initWasm). */
  threads?: number;
  /** wasm only: whether the SIMD binary was loaded. */
  simd?: boolean;
}

const PACKAGES: Record<BackendKind, string> = {
  'tensorflow-gpu': '@tensorflow/tfjs-node-gpu',
  tensorflow: '@tensorflow/tfjs-node',
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
  if (v === 'wasm' || v === 'cpu') return v;
  throw new Error(`Unknown TFJS_BACKEND "${value}": use auto, tensorflow-gpu (gpu), tensorflow, wasm or cpu`);
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
  for (const kind of ['tensorflow-gpu', 'tensorflow', 'wasm', 'cpu'] as const) {
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

let wasmPathsSet = false;

async function initWasm(): Promise<BackendInfo | string> {
  const wasm = await import('@tensorflow/tfjs-backend-wasm');
  if (!wasmPathsSet) {
    // The .wasm binaries sit beside the package's entry file; resolving it makes loading independent
    // of the process's cwd and of how the package is hoisted.
    wasm.setWasmPaths(join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm')), '/'));
    wasmPathsSet = true;
  }
  // Our kernels must be registered before the backend initialises so their setup runs with it.
  registerWasmKernels();
  const info = await activate('wasm', 'wasm');
  if (typeof info === 'string') return info;
  return { ...info, threads: wasm.getThreadsCount(), simd: Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) };
}
