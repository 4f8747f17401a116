import type { FloatArray } from '../../mlp';
import type { Posterior } from '../../posterior';

/**
 * Hessian-vector products at w* by central differences of gradients, every chain slot of the kernel
 * carrying one direction: H·v ≈ ‖v‖·(∇L(w* + h·v̂) − ∇L(w* − h·v̂))/(2h), v̂ = v/‖v‖; of L_n with
 * full-data gradients, or of a minibatch loss (an unbiased estimate of H·v) when given rows.
 * The step balances truncation (O(h²), third derivatives) against rounding (O(ε_mach/h)):
 * h = ε_mach^{1/3}·(1 + rms(w*)), about 5e-3 in float32 and 6e-6 in float64 for unit-scale weights.
 */
export class CentralDifferenceHessian {
  readonly step: number;
  /** Gradients computed so far, every slot of every call counted. */
  gradients = 0;
  private readonly plus: FloatArray;
  private readonly minus: FloatArray;
  private readonly gradPlus: FloatArray;
  private readonly gradMinus: FloatArray;
  private readonly loss: Float64Array;
  private readonly norms: Float64Array;

  constructor(readonly posterior: Posterior) {
    const { d, chains, dtype, center } = posterior;
    let sq = 0;
    for (let i = 0; i < d; i++) sq += center[i] * center[i];
    const machineEps = dtype === 'float32' ? 2 ** -23 : 2 ** -52;
    this.step = Math.cbrt(machineEps) * (1 + Math.sqrt(sq / d));
    this.plus = posterior.array(chains * d);
    this.minus = posterior.array(chains * d);
    this.gradPlus = posterior.array(chains * d);
    this.gradMinus = posterior.array(chains * d);
    this.loss = new Float64Array(chains);
    this.norms = new Float64Array(chains);
  }

  /**
   * out[c·d …] = H·directions[c·d …] for every slot c (a zero direction gives zero); `rows`: per-slot
   * minibatches of `batch` rows; `h`: the difference step, `step` unless testing linearity.
   */
  apply(directions: Float64Array, out: Float64Array, rows: Int32Array | null = null, batch = this.posterior.n, h = this.step): void {
    const { d, chains, center } = this.posterior;
    for (let c = 0; c < chains; c++) {
      let sq = 0;
      for (let i = 0; i < d; i++) sq += directions[c * d + i] ** 2;
      const norm = Math.sqrt(sq);
      this.norms[c] = norm;
      const scale = norm > 0 ? h / norm : 0;
      for (let i = 0; i < d; i++) {
        this.plus[c * d + i] = center[i] + scale * directions[c * d + i];
        this.minus[c * d + i] = center[i] - scale * directions[c * d + i];
      }
    }
    this.posterior.lossGradient(this.plus, rows, batch, this.gradPlus, this.loss);
    this.posterior.lossGradient(this.minus, rows, batch, this.gradMinus, this.loss);
    this.gradients += 2 * chains;
    for (let c = 0; c < chains; c++) {
      const factor = this.norms[c] / (2 * h);
      for (let i = 0; i < d; i++) out[c * d + i] = factor * (this.gradPlus[c * d + i] - this.gradMinus[c * d + i]);
    }
  }
}
