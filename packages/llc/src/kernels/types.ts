import type { Dtype, FloatArray } from '../mlp';

/**
 * What the samplers need from the model, at the granularity that keeps call overhead low: every
 * call handles all chains at once. Positions and gradients are `chains × d`, row-major by chain.
 * Data (X, Y) and the loss are bound when the kernel is made.
 */
export interface LossKernel {
  /** Names the implementation and precision, e.g. `reference-f64`; recorded in analysis.json. */
  readonly name: string;
  readonly dtype: Dtype;
  readonly d: number;
  readonly n: number;
  readonly chains: number;
  /** Full-data mean loss L_n of every chain's position. */
  loss(positions: FloatArray, out: Float64Array): void;
  /**
   * Mean loss and its gradient for every chain. `rows` holds `batch` row indices per chain
   * (chain c uses rows[c·batch … (c+1)·batch)); null means the full data set.
   */
  lossGrad(positions: FloatArray, rows: Int32Array | null, batch: number, grad: FloatArray, out: Float64Array): void;
}
