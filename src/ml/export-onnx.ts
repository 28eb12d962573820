// ONNX export of a saved model (model.json + weights.bin, the TF.js layers format), so that Python,
// C++ or any ONNX runtime can run it. The protobuf encoding comes from `onnx-proto` (the ONNX schema
// compiled with protobufjs); this module only maps layers to ONNX operators.
//
// It reads the saved files rather than a live tf.LayersModel: the API serves the export straight from
// the model folder without loading TensorFlow.js (src/api imports TensorFlow only through the predict
// service), and the result is the same bytes whichever backend trained the model.
//
// The graph takes the model's own input, float32 [N, H, W, C] (NHWC, normalized as the model was
// trained: the normalization is recorded in the metadata), transposes once to the NCHW layout ONNX
// convolutions use, and transposes back before Flatten so that dense weights see features in Keras'
// NHWC order. Output: float32 [N, classes] probabilities.
import onnxProto from 'onnx-proto';
import type { onnx as O } from 'onnx-proto';

const { onnx } = onnxProto;

/** ONNX opset the graph is written for; every operator used here is unchanged from 13 on. */
export const ONNX_OPSET = 13;
/** IR version 7 is the one that goes with opset 13. */
const IR_VERSION = 7;

export class OnnxExportError extends Error {
  readonly code = 'MODEL_NOT_EXPORTABLE';
  constructor(message: string) {
    super(message);
    this.name = 'OnnxExportError';
  }
}

/** The two files of a saved TF.js layers model. */
export interface SavedModelFiles {
  /** Parsed model.json. */
  modelJson: { modelTopology: unknown; weightsManifest: { paths: string[]; weights: WeightSpec[] }[] };
  /** The weight shards the manifest names, concatenated in manifest order. */
  weightData: Uint8Array;
}

interface WeightSpec {
  name: string;
  shape: number[];
  dtype: string;
}

interface LayerJson {
  class_name: string;
  config: Record<string, unknown> & { name: string };
}

type Layout = 'nhwc-input' | 'nchw' | 'flat';

const F = onnx.TensorProto.DataType.FLOAT;
const A = onnx.AttributeProto.AttributeType;

function ints(name: string, v: number[]): O.IAttributeProto {
  return { name, type: A.INTS, ints: v };
}
function int(name: string, v: number): O.IAttributeProto {
  return { name, type: A.INT, i: v };
}
function float(name: string, v: number): O.IAttributeProto {
  return { name, type: A.FLOAT, f: v };
}
function str(name: string, v: string): O.IAttributeProto {
  return { name, type: A.STRING, s: new TextEncoder().encode(v) };
}

/** Reads every float32 weight of the manifest, by name. */
function readWeights(files: SavedModelFiles): Map<string, { shape: number[]; data: Float32Array }> {
  const out = new Map<string, { shape: number[]; data: Float32Array }>();
  let offset = 0;
  const bytes = files.weightData;
  for (const spec of files.modelJson.weightsManifest.flatMap((g) => g.weights)) {
    if (spec.dtype !== 'float32') throw new OnnxExportError(`weight ${spec.name} is ${spec.dtype}; only float32 weights are exported`);
    const n = spec.shape.reduce((a, d) => a * d, 1);
    if (offset + 4 * n > bytes.byteLength) throw new OnnxExportError('weights.bin is shorter than model.json says');
    // Copied into an aligned buffer of its own (the offset need not be a multiple of 4, and a
    // Buffer's .buffer may be a larger shared pool).
    const data = new Float32Array(n);
    new Uint8Array(data.buffer).set(bytes.subarray(offset, offset + 4 * n));
    out.set(spec.name, { shape: spec.shape, data });
    offset += 4 * n;
  }
  return out;
}

/** Permutes a row-major tensor's axes: out axis i is in axis perm[i]. */
function transpose(data: Float32Array, shape: number[], perm: number[]): { data: Float32Array; shape: number[] } {
  const outShape = perm.map((p) => shape[p]!);
  const inStrides = shape.map((_, i) => shape.slice(i + 1).reduce((a, d) => a * d, 1));
  const out = new Float32Array(data.length);
  const idx = new Array<number>(shape.length).fill(0);
  for (let o = 0; o < out.length; o++) {
    let src = 0;
    for (let i = 0; i < perm.length; i++) src += idx[i]! * inStrides[perm[i]!]!;
    out[o] = data[src]!;
    for (let i = perm.length - 1; i >= 0; i--) {
      if (++idx[i]! < outShape[i]!) break;
      idx[i] = 0;
    }
  }
  return { data: out, shape: outShape };
}

function pair(v: unknown, what: string): [number, number] {
  const a = Array.isArray(v) ? v : [v, v];
  if (a.length !== 2 || !a.every((x) => Number.isInteger(x))) throw new OnnxExportError(`${what} must be two integers, got ${JSON.stringify(v)}`);
  return a as [number, number];
}

export interface OnnxExportOptions {
  /** metadata_props of the model (normalization, classes, dataset, job ...), as strings. */
  metadata?: Record<string, string>;
  /** ModelProto.doc_string. */
  docString?: string;
  modelVersion?: number;
}

/** The saved model as a serialized ONNX ModelProto. */
export function exportOnnx(files: SavedModelFiles, opts: OnnxExportOptions = {}): Uint8Array {
  const topology = files.modelJson.modelTopology as { class_name?: string; config?: { layers?: LayerJson[] } | LayerJson[] };
  if (topology?.class_name !== 'Sequential') throw new OnnxExportError(`only Sequential models are exported, this one is ${String(topology?.class_name)}`);
  const layers = (Array.isArray(topology.config) ? topology.config : topology.config?.layers) ?? [];
  const weights = readWeights(files);
  const first = layers.find((l) => Array.isArray(l.config.batch_input_shape));
  const inputShape = (first?.config.batch_input_shape as (number | null)[] | undefined)?.slice(1) as number[] | undefined;
  if (inputShape?.length !== 3) throw new OnnxExportError('the model has no [height, width, channels] input shape');

  const nodes: O.INodeProto[] = [];
  const initializers: O.ITensorProto[] = [];
  let current = 'input';
  let layout = 'nhwc-input' as Layout;
  let channels = inputShape[2]!;
  let counter = 0;
  const node = (opType: string, inputs: string[], attrs: O.IAttributeProto[] = [], name = opType): string => {
    const output = `${name}_${counter++}`;
    nodes.push({ opType, input: inputs, output: [output], name: output, attribute: attrs });
    current = output;
    return output;
  };
  const init = (name: string, shape: number[], data: Float32Array): string => {
    initializers.push({ name, dims: shape, dataType: F, rawData: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
    return name;
  };
  const weight = (layer: string, w: string): { shape: number[]; data: Float32Array } | undefined => weights.get(`${layer}/${w}`);
  const toNchw = () => {
    if (layout === 'nhwc-input') {
      node('Transpose', [current], [ints('perm', [0, 3, 1, 2])], 'to_nchw');
      layout = 'nchw';
    }
  };
  const activation = (fn: unknown, layer: string) => {
    if (fn === undefined || fn === null || fn === 'linear') return;
    if (fn === 'relu') node('Relu', [current], [], `${layer}_relu`);
    else if (fn === 'softmax') {
      if (layout !== 'flat') throw new OnnxExportError(`softmax on a feature map (${layer}) is not exported`);
      node('Softmax', [current], [int('axis', 1)], `${layer}_softmax`);
    } else if (fn === 'sigmoid') node('Sigmoid', [current], [], `${layer}_sigmoid`);
    else if (fn === 'tanh') node('Tanh', [current], [], `${layer}_tanh`);
    else throw new OnnxExportError(`activation ${String(fn)} of ${layer} is not exported`);
  };
  const padding = (p: unknown, layer: string): O.IAttributeProto[] => {
    if (p === 'valid') return [ints('pads', [0, 0, 0, 0])];
    // Keras pads an odd total at the bottom / right, which is ONNX's SAME_UPPER.
    if (p === 'same') return [str('auto_pad', 'SAME_UPPER')];
    throw new OnnxExportError(`padding ${String(p)} of ${layer} is not exported`);
  };
  const channelsLast = (c: Record<string, unknown>, layer: string) => {
    if (c.data_format !== undefined && c.data_format !== 'channels_last') throw new OnnxExportError(`${layer}: only channels_last is exported`);
  };

  for (const { class_name: cls, config: c } of layers) {
    const name = c.name;
    switch (cls) {
      case 'InputLayer':
      case 'Dropout':
        break; // identity in inference
      case 'Conv2D': {
        channelsLast(c, name);
        toNchw();
        if (layout !== 'nchw') throw new OnnxExportError(`${name}: a convolution after Flatten is not exported`);
        const k = weight(name, 'kernel');
        if (!k) throw new OnnxExportError(`${name} has no kernel`);
        // Keras [kh, kw, in, out] → ONNX [out, in, kh, kw].
        const t = transpose(k.data, k.shape, [3, 2, 0, 1]);
        const inputs = [current, init(`${name}.weight`, t.shape, t.data)];
        const b = c.use_bias !== false ? weight(name, 'bias') : undefined;
        if (b) inputs.push(init(`${name}.bias`, b.shape, b.data));
        node('Conv', inputs, [
          ints('kernel_shape', [k.shape[0]!, k.shape[1]!]),
          ints('strides', pair(c.strides ?? 1, `${name} strides`)),
          ints('dilations', pair(c.dilation_rate ?? 1, `${name} dilation_rate`)),
          ...padding(c.padding ?? 'valid', name),
        ], name);
        channels = k.shape[3]!;
        activation(c.activation, name);
        break;
      }
      case 'MaxPooling2D':
      case 'AveragePooling2D': {
        channelsLast(c, name);
        toNchw();
        if (layout !== 'nchw') throw new OnnxExportError(`${name}: pooling after Flatten is not exported`);
        const size = pair(c.pool_size ?? 2, `${name} pool_size`);
        const attrs = [ints('kernel_shape', size), ints('strides', pair(c.strides ?? size, `${name} strides`)), ...padding(c.padding ?? 'valid', name)];
        // Keras averages over the valid pixels only at the borders of a 'same' pooling.
        if (cls === 'AveragePooling2D') attrs.push(int('count_include_pad', 0));
        node(cls === 'MaxPooling2D' ? 'MaxPool' : 'AveragePool', [current], attrs, name);
        break;
      }
      case 'BatchNormalization': {
        const axis = c.axis as number | number[] | undefined;
        const ax = Array.isArray(axis) ? axis : [axis ?? -1];
        const rank = layout === 'flat' ? 2 : 4;
        if (ax.length !== 1 || !(ax[0] === -1 || ax[0] === rank - 1)) throw new OnnxExportError(`${name}: only batch norm over the last axis is exported`);
        toNchw(); // ONNX BatchNormalization normalizes axis 1: the channels in NCHW, the features in [N, F]
        const mean = weight(name, 'moving_mean');
        const variance = weight(name, 'moving_variance');
        if (!mean || !variance) throw new OnnxExportError(`${name} has no moving statistics`);
        const n = mean.data.length;
        const gamma = c.scale !== false ? weight(name, 'gamma') : undefined;
        const beta = c.center !== false ? weight(name, 'beta') : undefined;
        node('BatchNormalization', [
          current,
          init(`${name}.scale`, [n], gamma?.data ?? new Float32Array(n).fill(1)),
          init(`${name}.bias`, [n], beta?.data ?? new Float32Array(n)),
          init(`${name}.mean`, [n], mean.data),
          init(`${name}.var`, [n], variance.data),
        ], [float('epsilon', (c.epsilon as number | undefined) ?? 1e-3)], name);
        break;
      }
      case 'Activation':
        activation(c.activation, name);
        break;
      case 'Flatten':
        // Back to NHWC first: the dense layer after it was trained on Keras' (h, w, c) order.
        if (layout === 'nchw') node('Transpose', [current], [ints('perm', [0, 2, 3, 1])], `${name}_to_nhwc`);
        node('Flatten', [current], [int('axis', 1)], name);
        layout = 'flat';
        break;
      case 'Dense': {
        if (layout !== 'flat') throw new OnnxExportError(`${name}: a dense layer on a feature map is not exported (add a Flatten)`);
        const k = weight(name, 'kernel');
        if (!k) throw new OnnxExportError(`${name} has no kernel`);
        const inputs = [current, init(`${name}.weight`, k.shape, k.data)];
        const b = c.use_bias !== false ? weight(name, 'bias') : undefined;
        if (b) inputs.push(init(`${name}.bias`, b.shape, b.data));
        node('Gemm', inputs, [], name);
        channels = k.shape[1]!;
        activation(c.activation, name);
        break;
      }
      default:
        throw new OnnxExportError(`layer ${name} (${cls}) is not exported`);
    }
  }
  if (layout !== 'flat') throw new OnnxExportError('the model does not end in [N, classes]');
  const last = layers[layers.length - 1];
  if (last?.config.activation !== 'softmax') throw new OnnxExportError('the model does not end in a softmax: its output is not probabilities');
  // A named output, whatever the last node was.
  nodes[nodes.length - 1]!.output = ['probabilities'];

  const dims = (d: (number | string)[]) => ({ dim: d.map((v) => (typeof v === 'string' ? { dimParam: v } : { dimValue: v })) });
  const model = onnx.ModelProto.create({
    irVersion: IR_VERSION,
    opsetImport: [{ domain: '', version: ONNX_OPSET }],
    producerName: 'mnist-jobs',
    producerVersion: '1',
    modelVersion: opts.modelVersion ?? 1,
    docString: opts.docString ?? '',
    graph: {
      name: 'model',
      node: nodes,
      initializer: initializers,
      input: [{ name: 'input', type: { tensorType: { elemType: F, shape: dims(['N', ...inputShape]) } } }],
      output: [{ name: 'probabilities', type: { tensorType: { elemType: F, shape: dims(['N', channels]) } } }],
    },
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}
