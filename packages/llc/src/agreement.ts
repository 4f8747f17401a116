/**
 * Cross-sampler agreement on one target (README, "What a status means"). A run's own diagnostics
 * (status.ts) cannot see a sampler that converges to the wrong answer: variational inference on a
 * singular model reports tight, well-mixed, badly biased estimates. Runs of the same target
 * estimate the same λ, so each run is compared with the target's reference run, the most trusted
 * sampler's (HMC, then MCLMC, SGLD, VI; among runs of that sampler, the smallest MCSE). A run
 * disagrees when its λ̂ differs from the reference by more than both
 *   AGREEMENT.z · √(MCSE² + MCSE_ref²)   (beyond Monte Carlo error: the two are not the same number)
 *   AGREEMENT.relative · |λ̂_ref|          (and by more than a bias practitioners accept)
 * A missing MCSE counts as zero, so only the relative floor applies. The reference itself is
 * judged by its own diagnostics only. Diverged runs and runs without a finite λ̂ take no part.
 */
import type { RunStatus } from './status';

export const AGREEMENT = { z: 3, relative: 0.1 } as const;

/** Samplers in the order their λ̂ is trusted as a target's reference. */
export const TRUST_ORDER = ['hmc', 'mclmc', 'sgld', 'flow', 'vi'];

export interface RunEstimate {
  id: string;
  target: string;
  sampler: string;
  mean: number | null;
  mcse: number | null;
  state: RunStatus['state'];
}

const usable = (r: RunEstimate) => r.state !== 'diverged' && r.mean !== null && Number.isFinite(r.mean);
const rank = (sampler: string) => (TRUST_ORDER.includes(sampler) ? TRUST_ORDER.indexOf(sampler) : TRUST_ORDER.length);

/** A run against its target's reference run: the difference of their λ̂, and why it counts as disagreement (if it does). */
export interface Comparison {
  reference: RunEstimate;
  /** λ̂ − λ̂_ref (0 for the reference itself). */
  delta: number;
  /** delta / |λ̂_ref|, or null when λ̂_ref is 0. */
  relative: number | null;
  disagreement?: string;
}

/** Each usable run's comparison with its target's reference run, by run id (the reference included, against itself). */
export function comparisons(runs: RunEstimate[]): Map<string, Comparison> {
  const byTarget = new Map<string, RunEstimate[]>();
  for (const r of runs.filter(usable)) byTarget.set(r.target, [...(byTarget.get(r.target) ?? []), r]);
  const out = new Map<string, Comparison>();
  for (const group of byTarget.values()) {
    const reference = [...group].sort((a, b) => rank(a.sampler) - rank(b.sampler) || (a.mcse ?? Infinity) - (b.mcse ?? Infinity))[0];
    const ref = reference.mean!;
    for (const r of group) {
      const delta = r === reference ? 0 : r.mean! - ref;
      const comparison: Comparison = { reference, delta, relative: ref !== 0 ? delta / Math.abs(ref) : null };
      const threshold = Math.max(AGREEMENT.z * Math.hypot(r.mcse ?? 0, reference.mcse ?? 0), AGREEMENT.relative * Math.abs(ref));
      if (r !== reference && Math.abs(delta) > threshold) {
        const sign = delta > 0 ? '+' : '−';
        comparison.disagreement = `λ̂ disagrees with ${reference.sampler} run ${reference.id} (λ̂ ${ref.toPrecision(4)}) by ${sign}${Math.abs(delta).toPrecision(3)}${ref !== 0 ? ` (${sign}${((Math.abs(delta) / Math.abs(ref)) * 100).toFixed(0)}%)` : ''}, beyond ${AGREEMENT.z} combined MCSEs and ${AGREEMENT.relative * 100}%`;
      }
      out.set(r.id, comparison);
    }
  }
  return out;
}

/** The reason each disagreeing run gets, by run id. */
export function disagreements(runs: RunEstimate[]): Map<string, string> {
  const reasons = new Map<string, string>();
  for (const [id, c] of comparisons(runs)) if (c.disagreement) reasons.set(id, c.disagreement);
  return reasons;
}

/**
 * A run's status with a disagreement added: `ok` becomes `check`; `diverged` stays, its reason first.
 * Otherwise the disagreement comes first: it says the number itself is off, where the run's own
 * reasons say why it may be, and the run table shows a status's first reason only.
 */
export function withDisagreement(status: RunStatus, reason: string | undefined): RunStatus {
  if (!reason) return status;
  if (status.state === 'diverged') return { state: 'diverged', reasons: [...status.reasons, reason] };
  return { state: 'check', reasons: [reason, ...status.reasons] };
}
