/** A run's status: each criterion on its own, the VI exemption from the ESS rule, divergence, and SGLD's MALA acceptance. */
import { describe, expect, it } from 'vitest';
import type { LlcSummary } from '../packages/llc/src/llc';
import { runStatus, StatusInput } from '../packages/llc/src/status';

const healthy: LlcSummary = { mean: 5, std: 1, min: 2, max: 9, per_chain: [4.9, 5, 5.1, 5], mcse: 0.02, chains: 4, draws: 1000, ess_bulk: 1200, ess_tail: 900, r_hat: 1.002, mcse_mean: 0.02, ess_mean: 1100 };
const status = (llc: Partial<LlcSummary>, rest: Partial<StatusInput> = {}) => runStatus({ llc: { ...healthy, ...llc }, nonFiniteDraws: 0, estimatedPerChain: false, ...rest });

describe('runStatus', () => {
  it('is ok when every diagnostic passes', () => {
    expect(status({})).toEqual({ state: 'ok', reasons: [] });
    expect(status({}, { divergences: { count: 0, transitions: 4000 } })).toEqual({ state: 'ok', reasons: [] });
  });

  it('asks for a check on R̂ above 1.01, on an ESS below 100 per chain, on divergences and on λ̂ < 0', () => {
    expect(status({ r_hat: 1.02 }).reasons).toEqual(['R̂ 1.020 > 1.01: the chains disagree']);
    expect(status({ r_hat: 1.01 }).state).toBe('ok');
    expect(status({ ess_bulk: 399 }).reasons).toEqual(['bulk ESS 399 < 400 (100 per chain)']);
    expect(status({ ess_bulk: 400 }).state).toBe('ok');
    expect(status({ ess_tail: 120 }).reasons).toEqual(['tail ESS 120 < 400 (100 per chain)']);
    expect(status({}, { divergences: { count: 56, transitions: 4000 } }).reasons).toEqual(['56 of 4000 transitions after warm-up diverged (1.4%)']);
    expect(status({ mean: -0.3 }).reasons).toEqual(['λ̂ < 0: the chains found lower loss than w*, which may not be a minimum']);
    const many = status({ r_hat: 1.2, ess_bulk: 50, ess_tail: 40 });
    expect(many.state).toBe('check');
    expect(many.reasons).toHaveLength(3);
  });

  it('does not apply the ESS rule to per-chain estimates (VI), but still compares the chains', () => {
    expect(status({ ess_bulk: 250, ess_tail: 250, draws: 64 }, { estimatedPerChain: true }).state).toBe('ok');
    expect(status({ r_hat: 1.05, draws: 64 }, { estimatedPerChain: true }).reasons).toEqual(['R̂ 1.050 > 1.01: the chains disagree']);
  });

  it('asks for a check when there are too few draws for the diagnostics', () => {
    expect(status({ ess_bulk: NaN, ess_tail: NaN, r_hat: NaN }).reasons).toEqual(['too few draws for R̂ and ESS']);
  });

  it('is diverged when losses or λ̂ are not finite', () => {
    expect(status({}, { nonFiniteDraws: 3 })).toEqual({ state: 'diverged', reasons: ['3 of 4000 recorded losses are not finite: lower the step size'] });
    expect(status({ mean: NaN }).state).toBe('diverged');
  });

  it("flags SGLD's MALA acceptance outside [0.8, 0.995] with the step size expected to give 0.9", () => {
    const mala = (mean: number) => ({ mala: { mean, per_chain: [mean], checks_per_chain: 100, every: 100, step_size: 1e-4 } });
    expect(status({}, mala(0.93)).state).toBe('ok');
    expect(status({}, mala(0.99)).state).toBe('ok');
    // 1 − α scales as ε^{3/2}: from 0.6 to 0.9 is (0.1 / 0.4)^{2/3} = 0.397 times the step.
    expect(status({}, mala(0.6)).reasons).toEqual(['MALA acceptance 0.600 < 0.8: the step size is large enough to bias λ̂; try step_size ≈ 0.00004 (now 0.0001)']);
    // From 0.999 to 0.9: (0.1 / 0.001)^{2/3} = 21.5 times.
    expect(status({}, mala(0.999)).reasons).toEqual([
      'MALA acceptance 0.9990 > 0.995: the step size is smaller than it needs to be, so the chains mix slowly; try step_size ≈ 0.0022 (now 0.0001)',
    ]);
  });

  it("appends the sampler's own warnings (VI on a singular model) and makes the run check", () => {
    const warning = 'the loss is far from quadratic over q';
    expect(status({}, { warnings: [warning] })).toEqual({ state: 'check', reasons: [warning] });
    expect(status({}, { warnings: [] }).state).toBe('ok');
  });
});
