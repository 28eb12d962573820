// The one TensorFlow.js entry point of the project, like the `@tensorflow/tfjs` umbrella but without
// its browser-only packages: core ops plus the layers API. The pure-JS `cpu` backend is always
// registered as the last resort; faster ones are chosen in backend.ts.
import '@tensorflow/tfjs-backend-cpu';
export * from '@tensorflow/tfjs-core';
export * from '@tensorflow/tfjs-layers';
