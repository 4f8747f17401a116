/**
 * The case for hand-written kernels, measured: the same MLP gradient (one chain, a minibatch of
 * rows, ReLU hidden layers, MSE loss) written as gpu.js kernels, one output element per thread as
 * gpu.js compiles them, in its `cpu` mode and its `webgpu` mode (WGSL through the same Dawn adapter
 * as our WebGPU kernel). `npm run bench` prints it beside our kernels.
 */
import { GPU } from 'gpu.js';
import type { MlpArch } from '../packages/llc/src/mlp';
import { fillNormal, keyFromSeed } from '../packages/llc/src/rng';

export type GpujsMode = 'cpu' | 'webgpu';

type Matrix = number[][] | Float32Array[];
/** gpu.js returns arrays of rows, or (webgpu, pipeline) handles that stay on the device. */
type Value = unknown;
type Kernel = (...args: unknown[]) => Value | Promise<Value>;

const random = (length: number, seed: number) => {
  const x = new Float64Array(length);
  fillNormal(keyFromSeed(seed), x);
  return Float32Array.from(x, (v) => 0.1 * v);
};
const rowsOf = (flat: Float32Array, rows: number, cols: number): Float32Array[] => Array.from({ length: rows }, (_, i) => flat.subarray(i * cols, (i + 1) * cols));

/** Makes navigator.gpu the Dawn instance gpu.js's webgpu mode looks for (Node has no navigator). */
export function exposeWebGpu(): void {
  if ((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu) return;
  const dawn = require('webgpu') as { create(options: string[]): unknown; globals: Record<string, unknown> };
  Object.assign(globalThis, dawn.globals);
  (globalThis as { navigator?: unknown }).navigator = { gpu: dawn.create(process.platform === 'linux' ? ['backend=vulkan'] : []) };
}

/**
 * One gradient evaluation's kernels for `arch` (ReLU, bias, out_dim 1) on `rows` rows; returns a
 * function that runs one evaluation and resolves when the gradients are on the host.
 */
export function gpujsGradient(mode: GpujsMode, arch: MlpArch, rows: number): () => Promise<void> {
  const gpu = new GPU({ mode });
  const pipeline = mode === 'webgpu';
  const dims = [arch.in_dim, ...arch.widths, arch.out_dim];
  const max = Math.max(rows, ...dims);
  const options = { loopMaxIterations: max, pipeline, dynamicArguments: true };
  const make = (fn: (...args: never[]) => number, output: number[]): Kernel => gpu.createKernel(fn as never, options as never).setOutput(output) as unknown as Kernel;
  const layers = dims.slice(1).map((out, l) => {
    const inDim = dims[l];
    const hidden = l < dims.length - 2;
    return {
      inDim,
      out,
      hidden,
      W: rowsOf(random(out * inDim, 10 + l), out, inDim) as Matrix,
      b: random(out, 20 + l),
      forward: make(function (this: { thread: { x: number; y: number } }, H: number[][], W: number[][], b: number[], k: number, relu: number) {
        let s = b[this.thread.x];
        for (let j = 0; j < k; j++) s += H[this.thread.y][j] * W[this.thread.x][j];
        return relu > 0 ? Math.max(s, 0) : s;
      } as never, [out, rows]),
      dW: make(function (this: { thread: { x: number; y: number } }, G: number[][], H: number[][], n: number) {
        let s = 0;
        for (let i = 0; i < n; i++) s += G[i][this.thread.y] * H[i][this.thread.x];
        return s;
      } as never, [inDim, out]),
      db: make(function (this: { thread: { x: number } }, G: number[][], n: number) {
        let s = 0;
        for (let i = 0; i < n; i++) s += G[i][this.thread.x];
        return s;
      } as never, [out]),
      dH: make(function (this: { thread: { x: number; y: number } }, G: number[][], W: number[][], Hprev: number[][], o: number) {
        let s = 0;
        for (let j = 0; j < o; j++) s += G[this.thread.y][j] * W[j][this.thread.x];
        return Hprev[this.thread.y][this.thread.x] > 0 ? s : 0;
      } as never, [inDim, rows]),
    };
  });
  const X = rowsOf(random(rows * arch.in_dim, 1), rows, arch.in_dim);
  const Y = Array.from(random(rows, 2));
  const outputGrad = make(function (this: { thread: { x: number; y: number } }, F: number[][], y: number[], n: number) {
    return (2 * (F[this.thread.y][0] - y[this.thread.y])) / n;
  } as never, [1, rows]);
  const toHost = async (v: Value) => (pipeline ? (v as { toArray(): Promise<unknown> }).toArray() : v);

  return async () => {
    const acts: Value[] = [X];
    for (const l of layers) acts.push(await l.forward(acts[acts.length - 1], l.W, l.b, l.inDim, l.hidden ? 1 : 0));
    let g = await outputGrad(acts[acts.length - 1], Y, rows);
    const grads: Value[] = [];
    for (let i = layers.length - 1; i >= 0; i--) {
      const l = layers[i];
      grads.push(await l.dW(g, acts[i], rows), await l.db(g, rows));
      if (i > 0) g = await l.dH(g, l.W, acts[i], l.out);
    }
    await Promise.all(grads.map(toHost));
  };
}
