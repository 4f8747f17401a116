/**
 * The localized tempered posterior of SPEC §2:
 *   log π(w) = −nβ·L_n(w) − (γ/2)·‖w − w*‖² + const,
 * with β = β0 / ln(max(3, n)) in mode `1_over_log_n`, or β = β0 in mode `constant`, and
 * γ = d / prior_radius² when a prior radius is set.
 */
import { z } from 'zod';

export const PosteriorConfig = z.strictObject({
  beta_mode: z.enum(['1_over_log_n', 'constant']),
  beta0: z.number().positive(),
  gamma: z.number().min(0),
  prior_radius: z.number().positive().nullable(),
});
export type PosteriorConfig = z.infer<typeof PosteriorConfig>;

/** The resolved posterior settings: only what can change the result. */
export type PosteriorSpec = { beta_mode: PosteriorConfig['beta_mode']; beta0: number } & ({ gamma: number } | { prior_radius: number });

export function resolvePosterior(c: PosteriorConfig): PosteriorSpec {
  return c.prior_radius !== null
    ? { beta_mode: c.beta_mode, beta0: c.beta0, prior_radius: c.prior_radius }
    : { beta_mode: c.beta_mode, beta0: c.beta0, gamma: c.gamma };
}

export interface Temperature {
  n: number;
  beta: number;
  /** n·β, the factor between a loss difference and λ̂. */
  nBeta: number;
  gamma: number;
}

export function temperature(spec: PosteriorSpec, n: number, d: number): Temperature {
  const beta = spec.beta_mode === '1_over_log_n' ? spec.beta0 / Math.log(Math.max(3, n)) : spec.beta0;
  const gamma = 'prior_radius' in spec ? d / (spec.prior_radius * spec.prior_radius) : spec.gamma;
  return { n, beta, nBeta: n * beta, gamma };
}
