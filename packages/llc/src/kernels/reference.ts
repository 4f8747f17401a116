/**
 * The plain TypeScript kernel: chains one after another through MlpEvaluator. It is the oracle that
 * faster kernels are tested against. Full-data passes go through the data in chunks so memory stays
 * bounded for large n.
 */
import { castTo, Dtype, FloatArray, MlpEvaluator, arrayFor, layout } from '../mlp';
import { fillNormal } from '../rng';
import type { KernelEntry, KernelProblem, LossKernel, NumericIdentity, SgldArrays, SgldStep } from './types';

const CHUNK_ROWS = 2048;

export function referenceKernel({ arch, X, Y, n, lossFn, dtype, chains, maxBatch }: KernelProblem): LossKernel {
  const d = layout(arch).d;
  const Xd = castTo(dtype, X);
  const Yd = castTo(dtype, Y);
  const chunk = Math.min(n, CHUNK_ROWS);
  const ev = new MlpEvaluator(arch, Math.max(chunk, maxBatch), dtype);
  const partial = arrayFor(dtype, d);
  const chunks: [number, number][] = [];
  for (let start = 0; start < n; start += chunk) chunks.push([start, Math.min(chunk, n - start)]);
  const rowsOf = (start: number, count: number) => Int32Array.from({ length: count }, (_, i) => start + i);
  const chunkRows = chunks.map(([start, count]) => (chunks.length === 1 ? null : rowsOf(start, count)));

  const fullLoss = (positions: FloatArray, off: number): number => {
    let total = 0;
    chunks.forEach(([, count], i) => {
      total += count * ev.loss(positions, off, Xd, Yd, chunkRows[i], count, lossFn);
    });
    return total / n;
  };

  let noise: Float64Array | undefined;

  return {
    name: `reference-${dtype === 'float32' ? 'f32' : 'f64'}`,
    identity: referenceIdentity(dtype),
    threads: 1,
    dtype,
    d,
    n,
    chains,
    array: (length) => arrayFor(dtype, length),
    dispose() {},
    sgldStep(a: SgldArrays, rows: Int32Array, batch: number, out: Float64Array, step: SgldStep) {
      this.lossGrad(a.w, rows, batch, a.grad, out);
      noise ??= new Float64Array(chains * d);
      fillNormal(step.noiseKey, noise);
      const { w, grad, m, v, center } = a;
      for (let c = 0; c < chains; c++) {
        for (let j = 0; j < d; j++) {
          const i = c * d + j;
          const g = grad[i];
          let p = 1;
          let drift = g;
          if (step.precond !== 0) {
            v[i] = step.beta2 * v[i] + (1 - step.beta2) * g * g;
            p = 1 / (Math.sqrt(v[i] / step.bias2) + step.eps);
            if (step.precond === 2) {
              m[i] = step.beta1 * m[i] + (1 - step.beta1) * g;
              drift = m[i] / step.bias1;
            }
          }
          const ep = step.stepSize * p;
          w[i] = w[i] - 0.5 * ep * (step.gamma * (w[i] - center[j]) + step.nBeta * drift) + Math.sqrt(ep) * noise[i];
        }
      }
    },
    loss(positions, out) {
      for (let c = 0; c < chains; c++) out[c] = fullLoss(positions, c * d);
    },
    lossGrad(positions, rows, batch, grad, out) {
      for (let c = 0; c < chains; c++) {
        if (rows) {
          out[c] = ev.lossAndGrad(positions, c * d, Xd, Yd, rows, batch, lossFn, grad, c * d, c * batch);
          continue;
        }
        let total = 0;
        grad.fill(0, c * d, (c + 1) * d);
        chunks.forEach(([, count], i) => {
          total += count * ev.lossAndGrad(positions, c * d, Xd, Yd, chunkRows[i], count, lossFn, partial, 0);
          const w = count / n;
          for (let j = 0; j < d; j++) grad[c * d + j] += w * partial[j];
        });
        out[c] = total / n;
      }
    },
  };
}

// JavaScript arithmetic never fuses a multiply and an add.
const referenceIdentity = (dtype: Dtype): NumericIdentity => ({ kernel: 'reference', precision: dtype, fma: false, implementation: 'TypeScript' });

export const reference: KernelEntry = {
  name: 'reference',
  precisions: ['float32', 'float64'],
  available: () => ({ ok: true }),
  create: (problem) => referenceKernel(problem),
  identity: referenceIdentity,
  // All of it is TypeScript, which the import closure already covers.
  sourceFiles: () => [],
};
