/**
 * The fused SGLD update of packages/llc/src/samplers/sgld.ts for chains [c0, c1): the
 * preconditioner, the drift, the localizer and the injected noise in one sweep over memory,
 *   w ← w − ½·εP⊙(γ(w − w*) + nβ·drift) + √(εP)⊙ξ,
 * with ξ element c·d + j of the normal stream of the step's noise key: exact for float64, the
 * vectorised f32-accurate generator for float32 (most of the update's time is the noise).
 */
import { normalAt, normalsF32 } from './rng';

export function sgldUpdate<T>(
  w: usize, grad: usize, m: usize, v: usize, center: usize, d: i32, c0: i32, c1: i32,
  eps: f64, nBeta: f64, gamma: f64, precond: i32, beta1: f64, beta2: f64, epsP: f64, bias1: f64, bias2: f64,
  keyHi: u32, keyLo: u32, scratch: usize,
): void {
  const S = <usize>sizeof<T>();
  for (let c = c0; c < c1; c++) {
    const first = <u64>c * <u64>d;
    if (sizeof<T>() == 4) normalsF32(keyHi, keyLo, first, d, scratch);
    else for (let j = 0; j < d; j++) store<f64>(scratch + (<usize>j << 3), normalAt(keyHi, keyLo, first + <u64>j));
    for (let j = 0; j < d; j++) {
      const i = <usize>(c * d + j);
      const g = <f64>load<T>(grad + i * S);
      let p: f64 = 1;
      let drift = g;
      if (precond != 0) {
        const vi = beta2 * <f64>load<T>(v + i * S) + (1 - beta2) * g * g;
        store<T>(v + i * S, <T>vi);
        p = 1 / (Math.sqrt(<f64>load<T>(v + i * S) / bias2) + epsP);
        if (precond == 2) {
          const mi = beta1 * <f64>load<T>(m + i * S) + (1 - beta1) * g;
          store<T>(m + i * S, <T>mi);
          drift = <f64>load<T>(m + i * S) / bias1;
        }
      }
      const ep = eps * p;
      const wi = <f64>load<T>(w + i * S);
      const xi = <f64>load<T>(scratch + <usize>j * S);
      store<T>(w + i * S, <T>(wi - 0.5 * ep * (gamma * (wi - <f64>load<T>(center + <usize>j * S)) + nBeta * drift) + Math.sqrt(ep) * xi));
    }
  }
}
