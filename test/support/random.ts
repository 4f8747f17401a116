/**
 * mulberry32: a small, fast, deterministic 32-bit pseudo-random generator, for tests and scripts
 * that must replay a case from its seed (random DAGs, fuzzed files, kill moments). Not for sampling:
 * samplers use the counter-based generator in packages/llc/src/rng.ts.
 */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
