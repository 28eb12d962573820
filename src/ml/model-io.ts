// Saving and loading models in the TF.js layers format (model.json + weights.bin) through our own
// IOHandler: tf.io's `file://` handler exists only in tfjs-node, this one works on every backend.
// Checkpoints are a saved model plus the optimizer's state and the training loop's bookkeeping, so a
// resumed run continues where the interrupted one stopped (same Adam moments, same early stopping).
//
// Writes are atomic-ish: everything goes to a fresh sibling folder which is then swapped in with two
// renames (old → `<dir>.old-*`, new → `<dir>`). A crash between the two renames leaves only the
// `.old-*` folder, which the loaders fall back to.
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import * as tf from './tf.js';
import type { NamedTensor, TrainState } from './train.js';

export type { NamedTensor } from './train.js';

const MODEL_JSON = 'model.json';
const WEIGHTS_BIN = 'weights.bin';
const STATE_JSON = 'state.json';
const OPTIMIZER_BIN = 'optimizer.bin';
const BEST_BIN = 'best-weights.bin';

/**
 * A model or checkpoint folder that holds nothing to load. Its code is ENOENT, the code of the fs
 * error a file missing inside a folder raises, so that callers handle "not there" one way.
 */
export class ModelFilesNotFoundError extends Error {
  readonly code = 'ENOENT';
  constructor(
    message: string,
    readonly details: { dir: string; file: string },
  ) {
    super(message);
    this.name = 'ModelFilesNotFoundError';
  }
}

const toArrayBuffer = (b: Uint8Array): ArrayBuffer =>
  b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength) as ArrayBuffer;

function joinWeightData(data: tf.io.WeightData | undefined): Uint8Array {
  if (!data) return new Uint8Array(0);
  return new Uint8Array(Array.isArray(data) ? tf.io.CompositeArrayBuffer.join(data) : data);
}

async function exists(p: string): Promise<boolean> {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

/** Writes `files` into a fresh sibling folder, then swaps it in place of `dir`. */
async function writeDirAtomically(dir: string, files: Record<string, string | Uint8Array>): Promise<void> {
  const tag = `${process.pid}-${randomBytes(4).toString('hex')}`;
  const staging = `${dir}.tmp-${tag}`;
  const old = `${dir}.old-${tag}`;
  await mkdir(path.dirname(dir), { recursive: true });
  await mkdir(staging);
  try {
    await Promise.all(Object.entries(files).map(([name, content]) => writeFile(path.join(staging, name), content)));
    const hadOld = await exists(dir);
    if (hadOld) await rename(dir, old);
    await rename(staging, dir);
    if (hadOld) await rm(old, { recursive: true, force: true });
    await removeLeftovers(dir);
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
}

/** Deletes `<dir>.old-*` folders left by interrupted swaps, now that `dir` is complete again. */
async function removeLeftovers(dir: string): Promise<void> {
  const prefix = `${path.basename(dir)}.old-`;
  const names = await readdir(path.dirname(dir)).catch(() => [] as string[]);
  await Promise.all(names.filter((n) => n.startsWith(prefix)).map((n) => rm(path.join(path.dirname(dir), n), { recursive: true, force: true })));
}

/** `dir` if it holds `marker`, else a leftover `<dir>.old-*` from a swap interrupted by a crash. */
async function resolveDir(dir: string, marker: string): Promise<string> {
  if (await exists(path.join(dir, marker))) return dir;
  const parent = path.dirname(dir);
  const prefix = `${path.basename(dir)}.old-`;
  const leftovers = (await readdir(parent).catch(() => [] as string[])).filter((n) => n.startsWith(prefix));
  for (const name of leftovers) {
    const candidate = path.join(parent, name);
    if (await exists(path.join(candidate, marker))) return candidate;
  }
  throw new ModelFilesNotFoundError(`no ${marker} in ${dir}`, { dir, file: marker });
}

// ---- model files ------------------------------------------------------------------------------

function modelJson(artifacts: tf.io.ModelArtifacts): tf.io.ModelJSON {
  return {
    modelTopology: artifacts.modelTopology as object,
    format: artifacts.format ?? 'layers-model',
    generatedBy: artifacts.generatedBy ?? `TensorFlow.js tfjs-layers v${tf.version_layers}`,
    convertedBy: artifacts.convertedBy ?? null,
    weightsManifest: [{ paths: [WEIGHTS_BIN], weights: artifacts.weightSpecs ?? [] }],
  };
}

/** The files of a model in memory (model.json + weights.bin). */
async function modelFiles(model: tf.LayersModel): Promise<Record<string, string | Uint8Array>> {
  let files: Record<string, string | Uint8Array> | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      files = { [MODEL_JSON]: JSON.stringify(modelJson(artifacts)), [WEIGHTS_BIN]: joinWeightData(artifacts.weightData) };
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  return files!;
}

async function readModelArtifacts(dir: string): Promise<tf.io.ModelArtifacts> {
  const json = JSON.parse(await readFile(path.join(dir, MODEL_JSON), 'utf8')) as tf.io.ModelJSON;
  return tf.io.getModelArtifactsForJSON(json, async (manifest) => {
    const shards = await Promise.all(manifest.flatMap((g) => g.paths).map((p) => readFile(path.join(dir, p))));
    return [manifest.flatMap((g) => g.weights), tf.io.concatenateArrayBuffers(shards.map(toArrayBuffer))];
  });
}

/**
 * An IOHandler reading and writing a model folder on the local file system. `save` replaces the
 * folder atomically (see the top of the file).
 */
export function fileSystemHandler(dir: string): tf.io.IOHandler {
  return {
    async save(artifacts: tf.io.ModelArtifacts): Promise<tf.io.SaveResult> {
      if (artifacts.modelTopology instanceof ArrayBuffer) throw new Error('graph models in binary form are not supported');
      await writeDirAtomically(dir, {
        [MODEL_JSON]: JSON.stringify(modelJson(artifacts)),
        [WEIGHTS_BIN]: joinWeightData(artifacts.weightData),
      });
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    },
    async load(): Promise<tf.io.ModelArtifacts> {
      return readModelArtifacts(await resolveDir(dir, MODEL_JSON));
    },
  };
}

/** Saves `model` as `dir`/model.json + `dir`/weights.bin, replacing what was there. */
export async function saveModel(model: tf.LayersModel, dir: string): Promise<void> {
  await model.save(fileSystemHandler(dir));
}

/** Loads a model saved by saveModel (or any TF.js layers model folder, sharded or not). */
export async function loadModel(dir: string): Promise<tf.LayersModel> {
  return tf.loadLayersModel(fileSystemHandler(dir));
}

// ---- checkpoints ------------------------------------------------------------------------------

/** The JSON part of the loop state (TrainState without its tensors). */
export type PlainTrainState = Omit<TrainState, 'bestWeights'>;

export interface Checkpoint {
  model: tf.LayersModel;
  /** optimizer.getWeights() at save time, to hand to train's initialState.optimizerWeights. Empty if none. */
  optimizerWeights: NamedTensor[];
  /** Loop state; `bestWeights` (in model.weights order) when the run kept a best-epoch snapshot. */
  state: TrainState & Record<string, unknown>;
}

interface CheckpointMeta {
  version: 1;
  state: PlainTrainState & Record<string, unknown>;
  optimizer: { className: string | null; specs: tf.io.WeightsManifestEntry[] } | null;
  best: tf.io.WeightsManifestEntry[] | null;
}

async function encode(tensors: NamedTensor[]) {
  const { data, specs } = await tf.io.encodeWeights(tensors);
  return { data: joinWeightData(data), specs };
}

export interface CheckpointInput {
  model: tf.LayersModel;
  optimizer?: tf.Optimizer | null;
  /** Loop state; extra JSON-serialisable fields are stored and returned as they are. */
  state: TrainState;
}

/**
 * Saves model weights, optimizer state and loop state into `dir`, replacing the previous checkpoint
 * in one swap. Call as saveCheckpoint(dir, {model, optimizer, state}) or
 * saveCheckpoint(model, optimizer, dir, state).
 */
export async function saveCheckpoint(dir: string, input: CheckpointInput): Promise<void>;
export async function saveCheckpoint(
  model: tf.LayersModel,
  optimizer: tf.Optimizer | null | undefined,
  dir: string,
  state: TrainState,
): Promise<void>;
export async function saveCheckpoint(
  a: string | tf.LayersModel,
  b: CheckpointInput | tf.Optimizer | null | undefined,
  c?: string,
  d?: TrainState,
): Promise<void> {
  const { dir, model, optimizer, state } =
    typeof a === 'string'
      ? { dir: a, ...(b as CheckpointInput) }
      : { dir: c!, model: a, optimizer: b as tf.Optimizer | null | undefined, state: d! };

  const files = await modelFiles(model);
  let optimizerMeta: CheckpointMeta['optimizer'] = null;
  if (optimizer) {
    const weights = await optimizer.getWeights();
    const opt = await encode(weights);
    // getWeights() makes a fresh `iter` scalar; the other entries are the optimizer's own variables.
    for (const w of weights) if (w.name === 'iter') w.tensor.dispose();
    files[OPTIMIZER_BIN] = opt.data;
    optimizerMeta = { className: optimizer.getClassName(), specs: opt.specs };
  }
  let best: tf.io.WeightsManifestEntry[] | null = null;
  if (state.bestWeights?.length) {
    const enc = await encode(state.bestWeights.map((tensor, i) => ({ name: `best/${i}`, tensor })));
    files[BEST_BIN] = enc.data;
    best = enc.specs;
  }
  const { bestWeights: _omit, ...plain } = state;
  const meta: CheckpointMeta = { version: 1, state: plain as CheckpointMeta['state'], optimizer: optimizerMeta, best };
  files[STATE_JSON] = JSON.stringify(meta);
  await writeDirAtomically(dir, files);
}

/** Loads a checkpoint saved by saveCheckpoint; throws (code ENOENT) when there is none. */
export async function loadCheckpoint(dir: string): Promise<Checkpoint> {
  const from = await resolveDir(dir, STATE_JSON);
  const meta = JSON.parse(await readFile(path.join(from, STATE_JSON), 'utf8')) as CheckpointMeta;
  if (meta.version !== 1) throw new Error(`unsupported checkpoint version ${String(meta.version)}`);
  const model = await tf.loadLayersModel(tf.io.fromMemory(await readModelArtifacts(from)));
  const decode = async (file: string, specs: tf.io.WeightsManifestEntry[]) => {
    const map = tf.io.decodeWeights(toArrayBuffer(await readFile(path.join(from, file))), specs);
    return specs.map((s) => ({ name: s.name, tensor: map[s.name] }));
  };
  const optimizerWeights = meta.optimizer ? await decode(OPTIMIZER_BIN, meta.optimizer.specs) : [];
  const bestWeights = meta.best ? (await decode(BEST_BIN, meta.best)).map((w) => w.tensor) : undefined;
  return { model, optimizerWeights, state: { ...meta.state, bestWeights } };
}

/** Disposes the tensors a loaded checkpoint holds besides its model. */
export function disposeCheckpointTensors(cp: Pick<Checkpoint, 'optimizerWeights' | 'state'>): void {
  tf.dispose(cp.optimizerWeights.map((w) => w.tensor));
  tf.dispose(cp.state.bestWeights);
}
