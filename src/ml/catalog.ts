// The enumerations the job contract and the ML code share, written once. Plain data, no TensorFlow,
// so the API can import the contract (which is built from these lists) without loading TensorFlow.js.

export const ARCHITECTURES = ['mlp', 'simple-cnn', 'keras-cnn', 'strong-cnn', 'vgg-cnn'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];
export const DEFAULT_ARCHITECTURE: Architecture = 'vgg-cnn';

export const NORMALIZATIONS = ['zero-one', 'minus-one-one', 'standardize'] as const;
export type NormalizationKind = (typeof NORMALIZATIONS)[number];
export const DEFAULT_NORMALIZATION: NormalizationKind = 'zero-one';

export const OPTIMIZERS = ['sgd', 'momentum', 'adam'] as const;
export type OptimizerType = (typeof OPTIMIZERS)[number];

export const SCHEDULES = ['constant', 'step', 'cosine'] as const;
export type ScheduleType = (typeof SCHEDULES)[number];

export const SPLITS = ['train', 'val', 'test'] as const;
export type SplitName = (typeof SPLITS)[number];

export const isArchitecture = (name: string): name is Architecture => (ARCHITECTURES as readonly string[]).includes(name);
