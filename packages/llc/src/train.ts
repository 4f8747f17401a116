/**
 * Stage A training: full-batch gradient descent with Adam (default), AdamW or SGD, in float64,
 * with the reference's early stop (population std of the last 20 pre-update losses below
 * `early_stop_tol`, checked after step 100). Gradients come from a one-chain float64 kernel.
 */
import type { LossKernel } from './kernels/types';

export interface TrainingSpec {
  optimizer: 'adam' | 'adamw' | 'sgd';
  learning_rate: number;
  steps: number;
  early_stop_tol: number;
  weight_decay?: number;
}

export interface TrainingResult {
  params: Float64Array;
  /** Pre-update full-data loss of every step that ran. */
  losses: Float64Array;
  stoppedEarly: boolean;
}

const ADAM_B1 = 0.9;
const ADAM_B2 = 0.999;
const ADAM_EPS = 1e-8;
const EARLY_STOP_WINDOW = 20;
const EARLY_STOP_AFTER = 100;

export function train(kernel: LossKernel, init: Float64Array, spec: TrainingSpec, onProgress?: (step: number, loss: number) => void): TrainingResult {
  if (kernel.chains !== 1 || kernel.dtype !== 'float64') throw new Error('training needs a one-chain float64 kernel');
  const d = init.length;
  const theta = kernel.array(d);
  theta.set(init);
  const grad = kernel.array(d);
  const out = new Float64Array(1);
  const m = new Float64Array(d);
  const v = new Float64Array(d);
  const losses = new Float64Array(spec.steps);
  const lr = spec.learning_rate;
  const wd = spec.optimizer === 'adamw' ? (spec.weight_decay ?? 0) : 0;
  let t = 0;
  let stoppedEarly = false;
  for (; t < spec.steps; t++) {
    kernel.lossGrad(theta, null, kernel.n, grad, out);
    const loss = out[0];
    losses[t] = loss;
    // A non-finite loss never recovers; stop so the caller can report the divergence.
    if (!Number.isFinite(loss)) {
      t++;
      break;
    }
    if (spec.optimizer === 'sgd') {
      for (let i = 0; i < d; i++) theta[i] -= lr * grad[i];
    } else {
      const c1 = 1 - Math.pow(ADAM_B1, t + 1);
      const c2 = 1 - Math.pow(ADAM_B2, t + 1);
      for (let i = 0; i < d; i++) {
        const g = grad[i];
        m[i] = ADAM_B1 * m[i] + (1 - ADAM_B1) * g;
        v[i] = ADAM_B2 * v[i] + (1 - ADAM_B2) * g * g;
        theta[i] -= lr * ((m[i] / c1) / (Math.sqrt(v[i] / c2) + ADAM_EPS) + wd * theta[i]);
      }
    }
    if (onProgress) onProgress(t, loss);
    if (t > EARLY_STOP_AFTER && std(losses, t + 1 - EARLY_STOP_WINDOW, t + 1) < spec.early_stop_tol) {
      t++;
      stoppedEarly = true;
      break;
    }
  }
  return { params: Float64Array.from(theta), losses: losses.slice(0, t), stoppedEarly };
}

function std(x: Float64Array, from: number, to: number): number {
  let mean = 0;
  for (let i = from; i < to; i++) mean += x[i];
  mean /= to - from;
  let s = 0;
  for (let i = from; i < to; i++) s += (x[i] - mean) ** 2;
  return Math.sqrt(s / (to - from));
}
