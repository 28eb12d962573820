// Which formulation the conv gradient kernels use. `auto` picks per shape by estimated cost; tests
// and benchmarks force each one to check and compare them. `rows` exists for the filter gradient
// only (the input gradient takes it as `auto`).
export type ConvGradStrategy = 'auto' | 'conv' | 'gemm' | 'rows';

let current: ConvGradStrategy = 'auto';

export function setConvGradStrategy(s: ConvGradStrategy): void {
  current = s;
}

export function convGradStrategy(): ConvGradStrategy {
  return current;
}
