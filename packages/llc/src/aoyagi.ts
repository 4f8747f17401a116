/**
 * The learning coefficient of a deep linear network, in closed form.
 *
 * A deep linear network maps x ↦ W_L ⋯ W_1 x (identity activations, no biases) through layers of
 * widths H_1 (input), H_2, …, H_{L+1} (output). When the data come from such a map of rank r
 * (with Gaussian noise and inputs of full-rank covariance), its learning coefficient λ is given by
 * Aoyagi's theorem (M. Aoyagi, "Consideration on the learning efficiency of multiple-layered
 * neural networks with linear units", Neural Networks 172, 2024; restated as Theorem 1 of
 * arXiv:2501.12747 and used by Lau et al., "The local learning coefficient", AISTATS 2025):
 *
 *   with M_j = H_j − r, take the set Σ of l + 1 indices whose M_j are the smallest such that
 *     max_{j∈Σ} M_j < min_{k∉Σ} M_k,   Σ_{j∈Σ} M_j ≥ l·max_{j∈Σ} M_j,   Σ_{j∈Σ} M_j < l·min_{k∉Σ} M_k;
 *   then, with S = Σ_{j∈Σ} M_j and a = S − l·⌊S/l⌋,
 *     λ = (−r² + r(H_1 + H_{L+1}))/2 + a(l − a)/(4l) − l(l − 1)/4·(S/l)² + ½·Σ_{i<j∈Σ} M_i M_j.
 *
 * For one hidden layer this is Aoyagi & Watanabe's reduced-rank regression result (2005), and
 * for no hidden layer it is d/2: the unit tests check both.
 */

import type { BuildSpec } from './config';

export interface AoyagiLambda {
  lambda: number;
  /** Indices (into the widths) of the bottleneck set Σ. */
  sigma: number[];
  l: number;
}

/**
 * λ for layer widths [H_1 (input), …, H_{L+1} (output)] and true rank r (0 ≤ r ≤ min H_j).
 * Throws on widths or a rank the theorem does not cover.
 */
export function aoyagiLambda(widths: readonly number[], rank: number): AoyagiLambda {
  if (widths.length < 2) throw new Error(`a deep linear network needs an input and an output width, got [${widths.join(', ')}]`);
  if (!widths.every((h) => Number.isInteger(h) && h >= 1)) throw new Error(`widths must be positive integers, got [${widths.join(', ')}]`);
  const minWidth = Math.min(...widths);
  if (!Number.isInteger(rank) || rank < 0 || rank > minWidth) throw new Error(`rank must be an integer in [0, ${minWidth}] (the narrowest layer), got ${rank}`);

  const M = widths.map((h) => h - rank);
  const order = M.map((_, j) => j).sort((i, j) => M[i] - M[j]);
  // The conditions force Σ to hold the l + 1 smallest M_j; try each prefix of the sorted order.
  // l = 0 never qualifies (its last condition would read M_j < 0), so start at two indices.
  for (let size = 2; size <= M.length; size++) {
    const l = size - 1;
    const inside = order.slice(0, size).map((j) => M[j]);
    const maxIn = inside[size - 1];
    const S = inside.reduce((s, m) => s + m, 0);
    const minOut = size < M.length ? M[order[size]] : Infinity;
    if (!(maxIn < minOut && S >= l * maxIn && S < l * minOut)) continue;

    const a = S - l * Math.floor(S / l);
    let pairs = 0;
    for (let i = 0; i < size; i++) for (let j = i + 1; j < size; j++) pairs += inside[i] * inside[j];
    const H1 = widths[0];
    const HOut = widths[widths.length - 1];
    // The same sum over integer numerators (l(l − 1)/4·(S/l)² = (l − 1)S²/(4l)), so λ is exact.
    const lambda = (2 * (-rank * rank + rank * (H1 + HOut)) + 2 * pairs) / 4 + (a * (l - a) - (l - 1) * S * S) / (4 * l);
    return { lambda, sigma: order.slice(0, size).sort((x, y) => x - y), l };
  }
  // Unreachable by the theorem (Σ exists for every width list); kept as a loud guard.
  throw new Error(`no bottleneck set satisfies Aoyagi's conditions for widths [${widths.join(', ')}], rank ${rank}`);
}

/** λ of a target whose learning coefficient is known in closed form, and which result gives it. */
export interface ClosedFormLambda {
  lambda: number;
  /** `d/2 (regular model)` or `Aoyagi, rank r`. */
  source: string;
}

/**
 * The learning coefficient of a target where theory gives it, else null:
 *
 * - a student without hidden layers is a linear regression, a regular model: λ = d/2, whatever the
 *   teacher (the population loss is a non-degenerate quadratic in the weights around the best fit);
 * - a deep linear network student (identity activations, no biases, no layer norm or skips) of
 *   data from a linear teacher without biases or dropout: Aoyagi's λ with the teacher's rank,
 *   min(input, output, the teacher's widths) — its weights are Gaussian, so full rank almost surely —
 *   provided every student layer is at least that wide (else the student cannot fit the teacher).
 *
 * Both need inputs whose covariance has full rank; `lowdim_manifold` inputs are nearly degenerate
 * in the directions their latent space does not reach, so no λ is claimed for them. λ is the
 * coefficient as n → ∞; at a finite n a correct estimate differs from it by O(1/log n) terms
 * and by the localisation γ (bench/README.md, `npm run bench:dln`).
 */
export function closedFormLambda(build: Pick<BuildSpec, 'model' | 'teacher' | 'data'>): ClosedFormLambda | null {
  const { model, teacher, data } = build;
  if (data.x_dist === 'lowdim_manifold') return null;
  if (model.widths.length === 0) {
    const d = model.out_dim * (model.in_dim + (model.bias ? 1 : 0));
    return { lambda: d / 2, source: 'd/2 (regular model)' };
  }
  const linearStudent = model.activation === 'identity' && !model.bias && !model.layernorm && !model.skip_connections;
  const linearTeacher = (teacher.widths.length === 0 || teacher.activation === 'identity') && !teacher.bias && teacher.dropout_rate === 0;
  if (!linearStudent || !linearTeacher) return null;
  const rank = Math.min(model.in_dim, model.out_dim, ...teacher.widths);
  if (rank > Math.min(...model.widths)) return null;
  return { lambda: aoyagiLambda([model.in_dim, ...model.widths, model.out_dim], rank).lambda, source: `Aoyagi, rank ${rank}` };
}
