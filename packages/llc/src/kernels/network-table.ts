import { layout, LossFn, MlpArch } from '../mlp';

/**
 * The network as the compiled kernels (native, WebGPU) read it: per layer 8 words — in, out, the
 * offsets of W, b and the LayerNorm gain and bias in the flat parameter vector (−1 when absent),
 * hidden, skip — and the activation and loss as codes.
 */
export interface NetworkTable {
  layers: Int32Array;
  inDim: number;
  outDim: number;
  d: number;
  /** 0 relu, 1 tanh, 2 gelu, 3 identity. */
  activation: number;
  /** 0 mse, 1 Student-t. */
  loss: number;
  df: number;
  scale: number;
}

const ACTIVATIONS = { relu: 0, tanh: 1, gelu: 2, identity: 3 } as const;

export function networkTable(arch: MlpArch, lossFn: LossFn): NetworkTable {
  const { layers, d } = layout(arch);
  const table = new Int32Array(8 * layers.length);
  layers.forEach((l, i) => table.set([l.inDim, l.outDim, l.w, l.b, l.lnGain, l.lnBias, l.hidden ? 1 : 0, l.skip ? 1 : 0], 8 * i));
  return { layers: table, inDim: arch.in_dim, outDim: arch.out_dim, d, activation: ACTIVATIONS[arch.activation], loss: lossFn.kind === 'mse' ? 0 : 1, df: lossFn.df, scale: lossFn.scale };
}
