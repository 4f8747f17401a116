/**
 * Counter-based, splittable randomness: Threefry-2x32 with 20 rounds (Salmon et al., SC'11),
 * the generator JAX uses. A key is two 32-bit words; the same key and counter always give the
 * same bits, on every machine, so every draw in the project is a pure function of the seed.
 *
 * Counter space is split in two so that derived keys never collide with stream draws:
 *   - stream draws use counters with the top bit of the high word clear (2^63 blocks per key);
 *   - child keys (`fold`) use counters with that bit set.
 */

export interface Key {
  readonly hi: number;
  readonly lo: number;
}

const KS_PARITY = 0x1bd11bda;
const TWO_POW_32 = 4294967296;

const block = new Uint32Array(2);

/**
 * Threefry-2x32-20 of counter (c0, c1) under key (k0, k1); the result lands in `block`.
 * Unrolled (rotations 13 15 26 6 | 17 29 16 24, key injection every four rounds) because it runs
 * for every random number the samplers draw.
 */
function threefry(k0: number, k1: number, c0: number, c1: number): Uint32Array {
  k0 = k0 | 0;
  k1 = k1 | 0;
  const ks2 = k0 ^ k1 ^ KS_PARITY;
  let x0 = (c0 + k0) | 0;
  let x1 = (c1 + k1) | 0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 13) | (x1 >>> 19)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 15) | (x1 >>> 17)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 26) | (x1 >>> 6)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 6) | (x1 >>> 26)) ^ x0;
  x0 = (x0 + k1) | 0;
  x1 = (x1 + ks2 + 1) | 0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 17) | (x1 >>> 15)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 29) | (x1 >>> 3)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 16) | (x1 >>> 16)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 24) | (x1 >>> 8)) ^ x0;
  x0 = (x0 + ks2) | 0;
  x1 = (x1 + k0 + 2) | 0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 13) | (x1 >>> 19)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 15) | (x1 >>> 17)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 26) | (x1 >>> 6)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 6) | (x1 >>> 26)) ^ x0;
  x0 = (x0 + k0) | 0;
  x1 = (x1 + k1 + 3) | 0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 17) | (x1 >>> 15)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 29) | (x1 >>> 3)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 16) | (x1 >>> 16)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 24) | (x1 >>> 8)) ^ x0;
  x0 = (x0 + k1) | 0;
  x1 = (x1 + ks2 + 4) | 0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 13) | (x1 >>> 19)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 15) | (x1 >>> 17)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 26) | (x1 >>> 6)) ^ x0;
  x0 = (x0 + x1) | 0;
  x1 = ((x1 << 6) | (x1 >>> 26)) ^ x0;
  x0 = (x0 + ks2) | 0;
  x1 = (x1 + k0 + 5) | 0;
  block[0] = x0;
  block[1] = x1;
  return block;
}

/** The raw block function, exposed for known-answer tests. */
export function threefry2x32(key: [number, number], counter: [number, number]): [number, number] {
  const out = threefry(key[0], key[1], counter[0], counter[1]);
  return [out[0], out[1]];
}

/** A root key from a non-negative integer seed below 2^53. */
export function keyFromSeed(seed: number): Key {
  if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`seed must be a non-negative safe integer, got ${seed}`);
  return { hi: Math.floor(seed / TWO_POW_32) >>> 0, lo: seed >>> 0 };
}

/** A child key, one per tag; tags are non-negative integers below 2^53. Folding is cheap (one block). */
export function fold(key: Key, ...tags: number[]): Key {
  let k = key;
  for (const tag of tags) {
    if (!Number.isSafeInteger(tag) || tag < 0) throw new RangeError(`key tag must be a non-negative safe integer, got ${tag}`);
    const out = threefry(k.hi, k.lo, (0x80000000 | Math.floor(tag / TWO_POW_32)) >>> 0, tag >>> 0);
    k = { hi: out[0], lo: out[1] };
  }
  return k;
}

/** Maps a uint32 to the open interval (0, 1). */
function unit(u: number): number {
  return (u + 0.5) * 2.3283064365386963e-10;
}

/**
 * Sequential draws from one key. Use one stream per logical purpose (or per element when the
 * number of draws varies, as in rejection sampling) so that results do not depend on call order
 * elsewhere.
 */
export class Stream {
  private counter = 0;
  private spareNormal = NaN;

  constructor(private readonly key: Key) {}

  private next(): Uint32Array {
    const c = this.counter++;
    return threefry(this.key.hi, this.key.lo, Math.floor(c / TWO_POW_32), c >>> 0);
  }

  /** Uniform on (0, 1) with 32 bits of resolution. */
  uniform(): number {
    return unit(this.next()[0]);
  }

  /** Uniform integer in [0, n), n ≤ 2^32, with 53 bits of resolution (bias below n / 2^53). */
  below(n: number): number {
    const b = this.next();
    const u53 = ((b[0] >>> 5) * 67108864 + (b[1] >>> 6)) / 9007199254740992;
    return Math.floor(u53 * n);
  }

  /** Standard normal by Box–Muller; each block gives two draws. */
  normal(): number {
    if (!Number.isNaN(this.spareNormal)) {
      const z = this.spareNormal;
      this.spareNormal = NaN;
      return z;
    }
    const b = this.next();
    const r = Math.sqrt(-2 * Math.log(unit(b[0])));
    const theta = 2 * Math.PI * unit(b[1]);
    this.spareNormal = r * Math.sin(theta);
    return r * Math.cos(theta);
  }

  /** Gamma(shape, 1) by Marsaglia & Tsang (2000), with the α < 1 boost. */
  gamma(shape: number): number {
    if (!(shape > 0)) throw new RangeError(`gamma shape must be positive, got ${shape}`);
    if (shape < 1) {
      const u = this.uniform();
      return this.gamma(shape + 1) * Math.pow(u, 1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number;
      let v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.uniform();
      if (Math.log(u) < 0.5 * x * x + d - d * v + d * Math.log(v)) return d * v;
    }
  }
}

/** Fills `out` with standard normals drawn from `key` (deterministic in key and length). */
export function fillNormal(key: Key, out: Float64Array | Float32Array): void {
  const n = out.length;
  for (let i = 0, c = 0; i < n; i += 2, c++) {
    const b = threefry(key.hi, key.lo, Math.floor(c / TWO_POW_32), c >>> 0);
    const r = Math.sqrt(-2 * Math.log(unit(b[0])));
    const theta = 2 * Math.PI * unit(b[1]);
    out[i] = r * Math.cos(theta);
    if (i + 1 < n) out[i + 1] = r * Math.sin(theta);
  }
}

/** Fills `out` with uniforms on (0, 1) drawn from `key`. */
export function fillUniform(key: Key, out: Float64Array | Float32Array): void {
  for (let i = 0, c = 0; i < out.length; i += 2, c++) {
    const b = threefry(key.hi, key.lo, Math.floor(c / TWO_POW_32), c >>> 0);
    out[i] = unit(b[0]);
    if (i + 1 < out.length) out[i + 1] = unit(b[1]);
  }
}

/** Fills `out` with integers uniform in [0, n): minibatch indices drawn with replacement. */
export function fillBelow(key: Key, n: number, out: Int32Array): void {
  for (let i = 0; i < out.length; i++) {
    const b = threefry(key.hi, key.lo, 0, i);
    const u53 = ((b[0] >>> 5) * 67108864 + (b[1] >>> 6)) / 9007199254740992;
    out[i] = Math.floor(u53 * n);
  }
}
