// Transfer learning from a trained model: clone it, freeze leading layers, optionally put a new head
// on it, and the L2-SP penalty λ·Σ‖θ−θ₀‖² that keeps the shared weights near the base model's.
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

export type FreezeSpec = number | 'all-but-head' | 'none';

export interface FineTuneOptions {
  freeze: FreezeSpec;
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
}

const hasWeights = (l: tf.layers.Layer) => l.weights.length > 0;

/** Throws INPUT_SHAPE_MISMATCH unless the model takes images of shape [h, w, c]. */
export function checkInputShape(model: tf.LayersModel, shape: [number, number, number]): void {
  const got = model.inputs[0]!.shape.slice(1);
  if (got.length !== 3 || got.some((d, i) => d !== shape[i])) {
    throw new FineTuneError('INPUT_SHAPE_MISMATCH', `the model takes ${JSON.stringify(got)} but the data is ${JSON.stringify(shape)}`);
  }
}

export function setTrainable(model: tf.LayersModel, layerNames: readonly string[], trainable: boolean): void {
  const names = new Set(layerNames);
  for (const l of model.layers) if (names.has(l.name)) l.trainable = trainable;
}

/**
 * A fresh copy of `base` (never mutated) ready for fine-tuning. The copy is rebuilt from the base's
 * JSON config, with the head's `units` changed when it is replaced, and every other layer's weights
 * copied over, so no layer or variable is shared with the base model.
 */
export async function prepareFineTune(base: tf.LayersModel, opts: FineTuneOptions): Promise<PreparedFineTune> {
  const head = base.layers.find((l) => l.name === HEAD_LAYER);
  if (!head) throw new FineTuneError('HEAD_MISSING', `the base model has no layer named "${HEAD_LAYER}"`);
  const baseClasses = head.outputShape[(head.outputShape as number[]).length - 1] as number;
  if (!opts.replaceHead && baseClasses !== opts.numClasses) {
    throw new FineTuneError('HEAD_INCOMPATIBLE', `the base head has ${baseClasses} classes, the data has ${opts.numClasses}; set replaceHead`);
  }
  const config = JSON.parse(JSON.stringify(base.toJSON(null, false))) as { config: { layers: { class_name: string; config: Record<string, unknown> }[] } };
  if (opts.replaceHead) {
    const headConfig = config.config.layers.find((l) => l.config.name === HEAD_LAYER)!;
    headConfig.config.units = opts.numClasses;
    headConfig.config.kernel_initializer = { class_name: 'GlorotUniform', config: { seed: opts.seed ?? null } };
    headConfig.config.bias_initializer = { class_name: 'Zeros', config: {} };
  }
  const model = await tf.models.modelFromJSON({ modelTopology: config } as never);
  for (const layer of model.layers) {
    if (opts.replaceHead && layer.name === HEAD_LAYER) continue;
    const from = base.getLayer(layer.name);
    if (hasWeights(from)) layer.setWeights(from.getWeights());
  }

  const weighted = model.layers.filter(hasWeights);
  let count: number;
  if (opts.freeze === 'none') count = 0;
  else if (opts.freeze === 'all-but-head') count = weighted.findIndex((l) => l.name === HEAD_LAYER);
  else count = opts.freeze;
  if (count >= weighted.length) {
    model.dispose();
    throw new FineTuneError(
      'FREEZE_TOO_MANY',
      `freeze ${count} asks for more layers than can be frozen: the model has ${weighted.length} layers with weights and at least one must train`,
    );
  }
  const frozenLayers = weighted.slice(0, count).map((l) => l.name);
  setTrainable(model, frozenLayers, false);
  return { model, frozenLayers, headReplaced: opts.replaceHead };
}

export interface L2sp {
  /** λ·Σ‖θ−θ₀‖² over the trainable weights the model shares with the base (a new head is not). */
  loss: (model: tf.LayersModel) => tf.Scalar;
  dispose(): void;
}

/** The L2-SP penalty (Li et al., 2018) towards `base`'s weights, matched by layer name and shape. */
export function l2spRegularizer(model: tf.LayersModel, base: tf.LayersModel, lambda: number): L2sp {
  const anchors = new Map<tf.LayerVariable, tf.Tensor>();
  for (const layer of model.layers) {
    let from: tf.layers.Layer;
    try {
      from = base.getLayer(layer.name);
    } catch {
      continue;
    }
    const baseWeights = from.getWeights(false);
    layer.getWeights(false).forEach((_, i) => {
      const variable = layer.weights[i]!;
      const anchor = baseWeights[i];
      if (variable.trainable && anchor && anchor.shape.join() === variable.shape.join()) anchors.set(variable, tf.keep(anchor.clone()));
    });
  }
  return {
    loss: () =>
      tf.tidy(() => {
        let sum: tf.Scalar = tf.scalar(0);
        for (const [variable, anchor] of anchors) {
          if (!variable.trainable) continue;
          sum = tf.add(sum, tf.sum(tf.square(tf.sub(variable.read(), anchor))));
        }
        return tf.mul(sum, lambda) as tf.Scalar;
      }),
    dispose: () => {
      for (const t of anchors.values()) t.dispose();
      anchors.clear();
    },
  };
}
