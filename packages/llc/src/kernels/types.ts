import type { Dtype, FloatArray, LossFn, MlpArch } from '../mlp';
import type { Key } from '../rng';

/** What a kernel is made for: the model, the data and loss it binds, precision and chains. */
export interface KernelProblem {
  arch: MlpArch;
  X: ArrayLike<number>;
  Y: ArrayLike<number>;
  n: number;
  lossFn: LossFn;
  dtype: Dtype;
  chains: number;
  /** The largest minibatch the sampler will ask for (0: full data only). */
  maxBatch: number;
}

/** The SGLD update's settings for one step (docs/mathematics.md); `precond` 0 none, 1 rmsprop, 2 adam. */
export interface SgldStep {
  stepSize: number;
  nBeta: number;
  gamma: number;
  precond: 0 | 1 | 2;
  beta1: number;
  beta2: number;
  eps: number;
  /** Bias-correction divisors for m and v (1 without correction). */
  bias1: number;
  bias2: number;
  /** The noise is the normal stream of this key (`fillNormal`), element c·d + j for chain c. */
  noiseKey: Key;
}

/** A leapfrog trajectory's state, updated in place: positions, momenta and ∇U (chains × d), L_n and U per chain. */
export interface LeapfrogState {
  q: FloatArray;
  p: FloatArray;
  grad: FloatArray;
  loss: Float64Array;
  potential: Float64Array;
}

/** The arrays SGLD updates in place, chains × d, and the centre w* (d). */
export interface SgldArrays {
  w: FloatArray;
  grad: FloatArray;
  m: FloatArray;
  v: FloatArray;
  center: FloatArray;
}

/**
 * What the samplers need from the model, at the granularity that keeps call overhead low: every
 * call handles all chains at once. Positions and gradients are `chains × d`, row-major by chain.
 * Data (X, Y) and the loss are bound when the kernel is made.
 */
export interface LossKernel {
  /** Names the implementation and precision, e.g. `native-f32` or `wasm-relaxed-simd-f32`. */
  readonly name: string;
  /** What decides its rounding; recorded in analysis.json. */
  readonly identity: NumericIdentity;
  /** Threads one call uses; results never depend on it. */
  readonly threads: number;
  readonly dtype: Dtype;
  readonly d: number;
  readonly n: number;
  readonly chains: number;
  /**
   * A zeroed array in the kernel's precision that the kernel reads and writes in place. Samplers
   * allocate their hot arrays (positions, gradients, moments) here; any other array also works,
   * at the cost of a copy per call.
   */
  array(length: number): FloatArray;
  /** Full-data mean loss L_n of every chain's position. */
  loss(positions: FloatArray, out: Float64Array): void;
  /**
   * Mean loss and its gradient for every chain. `rows` holds `batch` row indices per chain
   * (chain c uses rows[c·batch … (c+1)·batch)); null means the full data set.
   */
  lossGrad(positions: FloatArray, rows: Int32Array | null, batch: number, grad: FloatArray, out: Float64Array): void;
  /**
   * One SGLD step of every chain, fused: the minibatch gradient (rows as for lossGrad, into
   * arrays.grad, each chain's minibatch loss into `out`), then the update with its preconditioner,
   * drift, localizer and noise.
   */
  sgldStep(arrays: SgldArrays, rows: Int32Array, batch: number, out: Float64Array, step: SgldStep): void;
  /**
   * `steps.length` SGLD steps, step s with the rows rows[s·chains·batch …] and the settings steps[s]:
   * the same as sgldStep for each in turn. Kernels that can fuse them into one submission (the GPU
   * kernel) implement it; for the others the Posterior calls sgldStep step by step.
   */
  sgldSteps?(arrays: SgldArrays, rows: Int32Array, batch: number, out: Float64Array, steps: SgldStep[]): void;
  /**
   * `setup.steps` leapfrog steps on U(w) = nβ·L_n(w) + (γ/2)·‖w − state.center‖² (Posterior.leapfrog
   * says what a step is), for kernels that can keep a trajectory on their device; for the others the
   * Posterior runs it with lossGrad.
   */
  leapfrog?(state: LeapfrogState & { center: FloatArray }, setup: { invMass: Float64Array; step: Float64Array; steps: number; nBeta: number; gamma: number }): void;
  /** Releases the kernel's threads and memory. */
  dispose(): void;
}

/**
 * What decides a kernel's rounding: two runs with equal identities (and the same config and seed)
 * give the same bits. Anything else about a kernel (threads, speed) never changes a result.
 */
export interface NumericIdentity {
  /** The registry entry: `webgpu`, `native`, `wasm` or `reference`. */
  kernel: KernelName;
  precision: Dtype;
  /** Whether products fuse multiply and add (one rounding instead of two). */
  fma: boolean;
  /** The build that computes: the WebAssembly variant, or the BLAS and the CPU kernels it chose. */
  implementation: string;
}

export type KernelName = 'webgpu' | 'native' | 'wasm' | 'reference';

export interface KernelOptions {
  /** Threads one task may use; results never depend on it. */
  threads: number;
}

export type Availability = { ok: true } | { ok: false; reason: string };

/** One implementation of LossKernel in the registry (kernels/index.ts). */
export interface KernelEntry {
  readonly name: KernelName;
  /** The precisions it computes in. */
  readonly precisions: readonly Dtype[];
  /**
   * Whether it can run here, or what is missing and how to get it. `named`: the user asked for this
   * kernel by name, rather than `auto` choosing it.
   */
  available(request: { named: boolean }): Availability;
  create(problem: KernelProblem, options: KernelOptions): LossKernel;
  /**
   * The rounding its kernels for `dtype` would have here, without making one: cache keys carry it
   * (every kernel it creates reports the same in LossKernel.identity). Only called when available.
   */
  identity(dtype: Dtype): NumericIdentity;
  /** Files that decide what it computes without being imported (C++, AssemblyScript): cache inputs. */
  sourceFiles(): string[];
}
