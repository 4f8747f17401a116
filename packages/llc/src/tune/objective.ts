/**
 * The tuning objectives (README, "Tuning"; the reference's `optuna.objective`), applied to the error
 * x = λ̂ − λ_ref of a trial:
 *   abs:   |x|;
 *   huber: x²/(2δ) when |x| ≤ δ, else |x| − δ/2 (Huber 1964, scaled by 1/δ so that it equals |x| − δ/2
 *          in the tails): quadratic near zero, so small errors are not over-rewarded by the kink
 *          of |x|, and linear beyond δ so that one wild trial does not dominate the study.
 * Both are continuous, and huber has a continuous derivative at ±δ.
 */
import { z } from 'zod';

export const ObjectiveConfig = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('abs') }),
  z.strictObject({ type: z.literal('huber'), delta: z.number().positive().default(0.1) }),
]);
export type ObjectiveConfig = z.infer<typeof ObjectiveConfig>;

export function absObjective(error: number): number {
  return Math.abs(error);
}

export function huberObjective(error: number, delta: number): number {
  const a = Math.abs(error);
  return a <= delta ? (0.5 * a * a) / delta : a - 0.5 * delta;
}

export function objectiveFunction(config: ObjectiveConfig): (error: number) => number {
  return config.type === 'abs' ? absObjective : (error) => huberObjective(error, config.delta);
}
