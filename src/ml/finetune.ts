// Transfer learning from a trained model: copy it, freeze leading layers, optionally put a new head
// on it, and the L2-SP penalty λ·Σ‖θ−θ₀‖² that keeps the shared weights near the base model's
// (Li, Grandvalet & Davoine, "Explicit inductive bias for transfer learning", 2018).
import * as tf from './tf.js';
import { HEAD_LAYER } from './models.js';

export type FineTuneErrorCode = 'HEAD_INCOMPATIBLE' | 'FREEZE_TOO_MANY' | 'INPUT_SHAPE_MISMATCH' | 'HEAD_MISSING';

export class FineTuneError extends Error {
  constructor(
    readonly code: FineTuneErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'FineTuneError';
  }
}

/**
 * How many leading layers to freeze. Only layers that hold weights count (conv, dense, batch norm):
 * pooling, dropout, flatten and activation layers have nothing to freeze, so counting them would make
 * the same number mean different depths in different architectures.
 */
export type FreezeSpec = number | 'all-but-head' | 'none';

export interface FineTuneOptions {
  freeze: FreezeSpec;
  /** Put a freshly initialised head with `numClasses` outputs in place of the base's. */
  replaceHead: boolean;
  numClasses: number;
  /** Seeds the new head's initial weights. */
  seed?: number;
}

export interface PreparedFineTune {
  model: tf.LayersModel;
  /** Names of the frozen layers, in model order. */
  frozenLayers: string[];
  headReplaced: boolean;
  /** Layers whose weights do not come from the base (the new head), excluded from L2-SP. */
  newLayers: string[];
}

const hasWeights = (l: tf.layers.Layer) => l.weights.length > 0;

/** Remembers which layers of a prepared model are new, so l2spRegularizer leaves them alone. */
const newLayersOf = new WeakMap<tf.LayersModel, Set<string>>();

/** The head: the layer named `head` (our architectures), else the last Dense layer. */
export function findHead(model: tf.LayersModel): tf.layers.Layer | undefined {
  const named = model.layers.find((l) => l.name === HEAD_LAYER);
  if (named) return named;
  return [...model.layers].reverse().find((l) => l.getClassName() === 'Dense');
}

/** Throws INPUT_SHAPE_MISMATCH unless the model takes images of shape [h, w, c]. */
export function checkInputShape(model: tf.LayersModel, shape: readonly [number, number, number]): void {
  const got = model.inputs[0].shape.slice(1);
  if (got.length !== 3 || got.some((d, i) => d !== shape[i])) {
    throw new FineTuneError(
      'INPUT_SHAPE_MISMATCH',
      `the model takes inputs of shape ${JSON.stringify(got)} but the data is ${JSON.stringify(shape)}`,
    );
  }
}

export function setTrainable(model: tf.LayersModel, layerNames: readonly string[], trainable: boolean): void {
  const names = new Set(layerNames);
  for (const l of model.layers) if (names.has(l.name)) l.trainable = trainable;
}

interface LayerJson {
  class_name: string;
  config: Record<string, unknown>;
}

/**
 * A copy of `base` ready for fine-tuning; `base` is not changed. The copy is rebuilt from the base's
 * JSON config (with the head's `units` changed when it is replaced) and every other layer's weights
 * are copied over, so no layer or variable is shared with the base.
 */
export async function prepareFineTune(base: tf.LayersModel, opts: FineTuneOptions): Promise<PreparedFineTune> {
  const head = findHead(base);
  if (!head) throw new FineTuneError('HEAD_MISSING', 'the base model has no Dense head layer');
  const baseClasses = base.outputs[0].shape[base.outputs[0].shape.length - 1] as number;
  if (!opts.replaceHead && baseClasses !== opts.numClasses) {
    throw new FineTuneError(
      'HEAD_INCOMPATIBLE',
      `the base model predicts ${baseClasses} classes but the data has ${opts.numClasses}; replace the head`,
    );
  }
  const weightedBase = base.layers.filter(hasWeights);
  const headIndex = weightedBase.indexOf(head);
  const count = opts.freeze === 'none' ? 0 : opts.freeze === 'all-but-head' ? headIndex : opts.freeze;
  if (!Number.isInteger(count) || count < 0) throw new FineTuneError('FREEZE_TOO_MANY', `freeze must be a non-negative integer, got ${count}`);
  if (count > headIndex) {
    throw new FineTuneError(
      'FREEZE_TOO_MANY',
      `cannot freeze ${count} layers: the model has ${weightedBase.length} layers with weights and its head (${head.name}) must stay trainable, so at most ${headIndex} can be frozen`,
    );
  }

  const topology = JSON.parse(JSON.stringify(base.toJSON(null, false))) as { config: { layers: LayerJson[] } };
  if (opts.replaceHead) {
    const h = topology.config.layers.find((l) => l.config.name === head.name)!;
    h.config.units = opts.numClasses;
    h.config.kernel_initializer = { class_name: 'GlorotUniform', config: { seed: opts.seed ?? null } };
    h.config.bias_initializer = { class_name: 'Zeros', config: {} };
  }
  const model = await tf.models.modelFromJSON({ modelTopology: topology } as unknown as tf.io.ModelJSON);
  for (const layer of model.layers) {
    if (opts.replaceHead && layer.name === head.name) continue;
    const from = base.getLayer(layer.name);
    if (hasWeights(from)) layer.setWeights(from.getWeights());
  }
  const frozenLayers = model.layers.filter(hasWeights).slice(0, count).map((l) => l.name);
  setTrainable(model, frozenLayers, false);
  const newLayers = opts.replaceHead ? [head.name] : [];
  newLayersOf.set(model, new Set(newLayers));
  return { model, frozenLayers, headReplaced: opts.replaceHead, newLayers };
}

/** A train() regularizer that also exposes itself as `.loss` and must be disposed after training. */
export interface L2sp {
  (): tf.Scalar;
  loss: () => tf.Scalar;
  dispose(): void;
  /** Names (layer/weight) of the weights the penalty covers. */
  readonly weightNames: string[];
}

/**
 * The L2-SP penalty λ·Σ‖θ−θ₀‖² over the model's trainable weights that it shares with the base,
 * matched by layer name, weight name and shape. Layers the fine-tune preparation created (a new head)
 * are skipped, as are those in `opts.exclude`. `base` is the base model or its weights by
 * "layer/weight" name; the anchors are copied, so the base may be disposed afterwards.
 * Frozen weights are skipped when the penalty is evaluated (their term is zero and constant).
 */
export function l2spRegularizer(
  model: tf.LayersModel,
  base: tf.LayersModel | Map<string, tf.Tensor>,
  lambda: number,
  opts: { exclude?: readonly string[] } = {},
): L2sp {
  if (!(lambda >= 0) || !Number.isFinite(lambda)) throw new Error(`lambda must be a finite number ≥ 0, got ${lambda}`);
  const exclude = new Set([...(newLayersOf.get(model) ?? []), ...(opts.exclude ?? [])]);
  const baseWeights = new Map<string, tf.Tensor>();
  if (base instanceof Map) {
    for (const [k, t] of base) baseWeights.set(k, t);
  } else {
    for (const l of base.layers) for (const w of l.weights) baseWeights.set(`${l.name}/${shortName(w)}`, w.read());
  }
  const anchors: { variable: tf.LayerVariable; anchor: tf.Tensor; name: string }[] = [];
  for (const layer of model.layers) {
    if (exclude.has(layer.name)) continue;
    for (const variable of layer.trainableWeights) {
      const name = `${layer.name}/${shortName(variable)}`;
      const anchor = baseWeights.get(name);
      if (anchor && anchor.shape.join() === variable.shape.join()) anchors.push({ variable, anchor: tf.keep(anchor.clone()), name });
    }
  }
  const loss = () =>
    tf.tidy(() => {
      const terms = anchors
        .filter((a) => a.variable.trainable)
        .map((a) => tf.sum(tf.square(tf.sub(a.variable.read(), a.anchor))));
      const total = terms.length ? tf.addN(terms) : tf.scalar(0);
      return tf.mul(total, lambda) as tf.Scalar;
    });
  return Object.assign(loss, {
    loss,
    dispose: () => {
      for (const a of anchors) a.anchor.dispose();
      anchors.length = 0;
    },
    weightNames: anchors.map((a) => a.name),
  });
}

/** "kernel" for a weight whose originalName is "conv1/kernel". */
function shortName(w: tf.LayerVariable): string {
  const n = w.originalName;
  return n.slice(n.lastIndexOf('/') + 1);
}

/** Squared L2 distance Σ‖θ−θ₀‖² between same-named weights of two models (for reports and tests). */
export function weightDistance(a: tf.LayersModel, b: tf.LayersModel, layerNames?: readonly string[]): number {
  const only = layerNames ? new Set(layerNames) : null;
  return tf.tidy(() => {
    let total = 0;
    for (const la of a.layers) {
      if (only && !only.has(la.name)) continue;
      const lb = b.layers.find((l) => l.name === la.name);
      if (!lb) continue;
      const wa = la.getWeights();
      const wb = lb.getWeights();
      wa.forEach((t, i) => {
        if (wb[i] && t.shape.join() === wb[i].shape.join()) total += tf.sum(tf.square(tf.sub(t, wb[i]))).dataSync()[0];
      });
    }
    return total;
  });
}
