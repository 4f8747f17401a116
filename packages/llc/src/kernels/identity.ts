import type { NumericIdentity } from './types';

/** One line for people: e.g. "wasm-relaxed-simd, float32, fused multiply-add". */
export function describeIdentity(id: NumericIdentity): string {
  return `${id.implementation}, ${id.precision}, ${id.fma ? 'fused multiply-add' : 'no fused multiply-add'}`;
}
