// Saving and loading models in the TF.js layers format (model.json + weights.bin) through our own
// IOHandler: tf.io's `file://` handler exists only in tfjs-node, and this one works on every backend.
// Checkpoints add the optimizer's state and the training loop's bookkeeping, so a resumed run
// continues exactly where the interrupted one stopped.
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import * as tf from './tf.js';
import type { TrainState } from './train.js';

/** What optimizer.getWeights() returns (tfjs-core does not export the type at its top level). */
export interface NamedTensor {
  name: string;
  tensor: tf.Tensor;
}

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';

function joinWeightData(data: tf.io.WeightData): ArrayBuffer {
  return Array.isArray(data) ? tf.io.concatenateArrayBuffers(data) : data;
}

/** Writes `files` into a fresh sibling folder, then swaps it in: readers never see half a model. */
async function writeDirAtomically(dir: string, files: Record<string, string | Uint8Array>): Promise<void> {
  const staging = `${dir}.tmp-${randomBytes(4).toString('hex')}`;
  await mkdir(staging, { recursive: true });
  try {
    for (const [name, content] of Object.entries(files)) await writeFile(path.join(staging, name), content);
    await rm(dir, { recursive: true, force: true });
    await rename(staging, dir);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
}

async function modelFiles(model: tf.LayersModel): Promise<Record<string, string | Uint8Array>> {
  let files: Record<string, string | Uint8Array> = {};
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = new Uint8Array(joinWeightData(artifacts.weightData!));
      const json = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format ?? 'layers-model',
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy ?? null,
        weightsManifest: [{ paths: [`./${WEIGHTS_BIN}`], weights: artifacts.weightSpecs }],
      };
      files = { [MODEL_JSON]: JSON.stringify(json), [WEIGHTS_BIN]: weights };
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  return files;
}

/** Saves `model` as `dir`/model.json + `dir`/weights.bin, replacing what was there. */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  await writeDirAtomically(dir, await modelFiles(model));
}

/** Loads a model saved by saveModel (or any single-shard TF.js layers model). */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  const json = JSON.parse(await readFile(path.join(dir, MODEL_JSON), 'utf8'));
  const manifest = json.weightsManifest as tf.io.WeightsManifestConfig;
  const shards = await Promise.all(manifest.flatMap((g) => g.paths).map((p) => readFile(path.join(dir, p))));
  const weightData = tf.io.concatenateArrayBuffers(shards.map((b) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer));
  return tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: json.modelTopology,
      weightSpecs: manifest.flatMap((g) => g.weights),
      weightData,
      format: json.format,
      generatedBy: json.generatedBy,
      convertedBy: json.convertedBy,
    }),
  );
}

// ---- checkpoints -----------------------------------------------------------------------------------

const STATE_JSON = 'state.json';
const OPTIMIZER_BIN = 'optimizer.bin';
const BEST_BIN = 'best-weights.bin';

type PlainState = Omit<TrainState, 'bestWeights'>;

export interface Checkpoint {
  model: tf.LayersModel;
  optimizerWeights: NamedTensor[];
  state: TrainState;
}

async function encode(tensors: NamedTensor[]) {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  return { data: new Uint8Array(joinWeightData(data)), specs };
}

/**
 * Saves weights, optimizer state and loop state into `dir` (model/ subfolder + state.json + binaries),
 * replacing the previous checkpoint in one rename.
 */
export async function saveCheckpoint(dir: string, { model, optimizer, state }: { model: tf.LayersModel; optimizer: tf.Optimizer; state: TrainState }): Promise<void> {
  const optimizerWeights = await optimizer.getWeights();
  const opt = await encode(optimizerWeights);
  const best = state.bestWeights ? await encode(state.bestWeights.map((tensor, i) => ({ name: `w${i}`, tensor }))) : null;
  const files = await modelFiles(model);
  const { bestWeights, ...plain } = state;
  const meta = { state: plain satisfies PlainState, optimizer: opt.specs, best: best?.specs ?? null };
  await writeDirAtomically(dir, {
    ...Object.fromEntries(Object.entries(files).map(([k, v]) => [`model-${k}`, v])),
    [STATE_JSON]: JSON.stringify(meta),
    [OPTIMIZER_BIN]: opt.data,
    ...(best ? { [BEST_BIN]: best.data } : {}),
  });
}

const toArrayBuffer = (b: Buffer) => b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

/** Loads a checkpoint saved by saveCheckpoint; throws when there is none. */
export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  const meta = JSON.parse(await readFile(path.join(dir, STATE_JSON), 'utf8'));
  const json = JSON.parse(await readFile(path.join(dir, `model-${MODEL_JSON}`), 'utf8'));
  const weights = await readFile(path.join(dir, `model-${WEIGHTS_BIN}`));
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightsManifest[0].weights, weightData: toArrayBuffer(weights) }),
  );
  const opt = tf.io.decodeWeights(toArrayBuffer(await readFile(path.join(dir, OPTIMIZER_BIN))), meta.optimizer);
  const optimizerWeights = (meta.optimizer as tf.io.WeightsManifestEntry[]).map((s) => ({ name: s.name, tensor: opt[s.name]! }));
  let bestWeights: tf.Tensor[] | undefined;
  if (meta.best) {
    const best = tf.io.decodeWeights(toArrayBuffer(await readFile(path.join(dir, BEST_BIN))), meta.best);
    bestWeights = (meta.best as tf.io.WeightsManifestEntry[]).map((s) => best[s.name]!);
  }
  return { model, optimizerWeights, state: { ...(meta.state as PlainState), bestWeights } };
}
