/**
 * The plain TypeScript kernel: chains one after another through MlpEvaluator. It is the oracle that
 * faster kernels are tested against. Full-data passes go through the data in chunks so memory stays
 * bounded for large n.
 */
import { castTo, Dtype, FloatArray, LossFn, MlpArch, MlpEvaluator, arrayFor, layout } from '../mlp';
import type { LossKernel } from './types';

const CHUNK_ROWS = 2048;

export function referenceKernel(
  arch: MlpArch,
  X: ArrayLike<number>,
  Y: ArrayLike<number>,
  n: number,
  lossFn: LossFn,
  dtype: Dtype,
  chains: number,
  maxBatch = 0,
): LossKernel {
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

  return {
    name: `reference-${dtype === 'float32' ? 'f32' : 'f64'}`,
    dtype,
    d,
    n,
    chains,
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
