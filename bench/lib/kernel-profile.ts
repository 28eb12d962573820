// Per-kernel wall time of the active TensorFlow.js backend: every kernel registered for it is
// re-registered with a timer around its kernelFunc. Kernels on the wasm and native backends run
// synchronously (the addon's calls and XNNPACK's both return when done), so the wall time of the
// call is the kernel's cost. Times are exclusive: a kernel that runs others through the engine is
// charged only for its own part. What the kernels do not cover (the engine's bookkeeping, the
// gradient tape, tensor allocation, JS between ops) is the step's time minus their sum.
import * as tf from '../../src/ml/tf.js';

export interface KernelStat {
  calls: number;
  ms: number;
}

export interface KernelProfiler {
  /** Starts a new measurement window. */
  reset(): void;
  stats(): Map<string, KernelStat>;
}

let installed: { backend: string; profiler: KernelProfiler } | undefined;

/** Wraps the kernels of `backend` (once per process); `label` names a call, by default its kernel. */
export function profileKernels(backend = tf.getBackend(), label?: (name: string, inputs: tf.NamedTensorInfoMap) => string): KernelProfiler {
  if (installed) {
    if (installed.backend !== backend) throw new Error(`kernels of ${installed.backend} are already wrapped`);
    return installed.profiler;
  }
  let stats = new Map<string, KernelStat>();
  const childMs: number[] = [];
  for (const cfg of tf.getKernelsForBackend(backend)) {
    const inner = cfg.kernelFunc;
    const name = cfg.kernelName;
    tf.unregisterKernel(name, backend);
    tf.registerKernel({
      ...cfg,
      kernelFunc: (args) => {
        childMs.push(0);
        const t0 = performance.now();
        try {
          return inner(args);
        } finally {
          const total = performance.now() - t0;
          const own = total - childMs.pop()!;
          if (childMs.length) childMs[childMs.length - 1]! += total;
          const key = label ? label(name, args.inputs) : name;
          const s = stats.get(key) ?? { calls: 0, ms: 0 };
          s.calls++;
          s.ms += own;
          stats.set(key, s);
        }
      },
    });
  }
  const profiler: KernelProfiler = {
    reset: () => {
      stats = new Map();
    },
    stats: () => stats,
  };
  installed = { backend, profiler };
  return profiler;
}

/** Kernel name with its first input's shape, e.g. `Conv2D [64,28,28,1]`. */
export function byShape(name: string, inputs: tf.NamedTensorInfoMap): string {
  const first = Object.values(inputs).find((t) => t && 'shape' in t) as tf.TensorInfo | undefined;
  return first ? `${name} [${first.shape.join(',')}]` : name;
}

/** Rows sorted by time: kernel, calls per step, ms per step, share of the step. */
export function profileRows(stats: Map<string, KernelStat>, steps: number, stepMs: number): Record<string, string | number>[] {
  const rows = [...stats.entries()].sort((a, b) => b[1].ms - a[1].ms);
  const kernelMs = rows.reduce((s, [, v]) => s + v.ms, 0) / steps;
  const out: Record<string, string | number>[] = rows.map(([k, v]) => ({
    kernel: k,
    'calls/step': Number((v.calls / steps).toFixed(1)),
    'ms/step': Number((v.ms / steps).toFixed(3)),
    '%': Number(((100 * v.ms) / steps / stepMs).toFixed(1)),
  }));
  out.push({ kernel: '(outside kernels: engine, tape, JS)', 'calls/step': '', 'ms/step': Number((stepMs - kernelMs).toFixed(3)), '%': Number(((100 * (stepMs - kernelMs)) / stepMs).toFixed(1)) });
  out.push({ kernel: '(step total)', 'calls/step': '', 'ms/step': Number(stepMs.toFixed(3)), '%': 100 });
  return out;
}
