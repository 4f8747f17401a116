/**
 * A run's verdict for the results table: `ok`, `check` (a diagnostic says the estimate may not be
 * trustworthy) or `diverged` (the sampler left the region where losses are finite). Thresholds
 * follow Vehtari et al. (2021): R̂ below 1.01 and bulk and tail ESS of at least 100 per chain.
 */
import type { LlcSummary } from './llc';
import { MALA_RANGE, MalaSummary, suggestedStepSize } from './samplers/mala';

export type RunState = 'ok' | 'check' | 'diverged';

export interface RunStatus {
  state: RunState;
  /** Why the state is not `ok`, one sentence each; empty when it is. */
  reasons: string[];
}

export const STATUS_THRESHOLDS = { maxRHat: 1.01, minEssPerChain: 100 } as const;

export interface StatusInput {
  llc: LlcSummary;
  /** Recorded L_n values that are NaN or infinite. */
  nonFiniteDraws: number;
  /** Whether λ̂ was estimated per chain (VI): its draws are independent, so the ESS criteria do not apply. */
  estimatedPerChain: boolean;
  /** Divergent transitions after warm-up out of all transitions (every chain counted), for samplers that detect them (HMC). */
  divergences?: { count: number; transitions: number };
  /** The MALA acceptance of the proposals, for samplers that check it (SGLD). */
  mala?: MalaSummary;
  /** Reasons the sampler itself gave not to trust its estimate. */
  warnings?: string[];
}

export function runStatus(s: StatusInput): RunStatus {
  const { llc } = s;
  if (s.nonFiniteDraws > 0 || !Number.isFinite(llc.mean)) {
    const what = s.nonFiniteDraws > 0 ? `${s.nonFiniteDraws} of ${llc.chains * llc.draws} recorded losses are not finite` : 'λ̂ is not finite';
    return { state: 'diverged', reasons: [`${what}: lower the step size`] };
  }
  const reasons: string[] = [];
  const { maxRHat, minEssPerChain } = STATUS_THRESHOLDS;
  // Undefined statistics are NaN here (null in analysis.json).
  if (!Number.isFinite(llc.r_hat) || !Number.isFinite(llc.ess_bulk)) reasons.push('too few draws for R̂ and ESS');
  else {
    if (llc.r_hat > maxRHat) reasons.push(`R̂ ${llc.r_hat.toFixed(3)} > ${maxRHat}: the chains disagree`);
    const minEss = minEssPerChain * llc.chains;
    if (!s.estimatedPerChain) {
      if (llc.ess_bulk < minEss) reasons.push(`bulk ESS ${llc.ess_bulk.toFixed(0)} < ${minEss} (${minEssPerChain} per chain)`);
      if (llc.ess_tail < minEss) reasons.push(`tail ESS ${llc.ess_tail.toFixed(0)} < ${minEss} (${minEssPerChain} per chain)`);
    }
  }
  if (s.divergences?.count) {
    const { count, transitions } = s.divergences;
    reasons.push(`${count} of ${transitions} transitions after warm-up diverged (${((100 * count) / transitions).toFixed(1)}%)`);
  }
  if (s.mala) {
    const { mean } = s.mala;
    const suggestion = `try step_size ≈ ${Number(suggestedStepSize(s.mala).toPrecision(2))} (now ${s.mala.step_size})`;
    if (mean < MALA_RANGE.low) reasons.push(`MALA acceptance ${mean.toFixed(3)} < ${MALA_RANGE.low}: the step size is large enough to bias λ̂; ${suggestion}`);
    else if (mean > MALA_RANGE.high) reasons.push(`MALA acceptance ${mean.toFixed(4)} > ${MALA_RANGE.high}: the step size is smaller than it needs to be, so the chains mix slowly; ${suggestion}`);
  }
  if (s.warnings) reasons.push(...s.warnings);
  if (llc.mean < 0) reasons.push('λ̂ < 0: the chains found lower loss than w*, which may not be a minimum');
  return { state: reasons.length ? 'check' : 'ok', reasons };
}
