/**
 * The project's normal stream, in WebAssembly: element i of the stream of key (hi, lo) is the
 * (i mod 2)-th Box–Muller normal of Threefry-2x32-20 block ⌊i/2⌋, exactly as `fillNormal` in
 * packages/llc/src/rng.ts defines it. Any slice can be generated on its own, so threads can fill
 * the rows of different chains independently.
 */

let out0: u32 = 0;
let out1: u32 = 0;

// @ts-ignore: decorator
@inline function rotl(x: u32, r: u32): u32 {
  return (x << r) | (x >>> (32 - r));
}

/** Threefry-2x32 with 20 rounds; the result lands in out0, out1. */
function threefry(k0: u32, k1: u32, c0: u32, c1: u32): void {
  const ks2 = k0 ^ k1 ^ 0x1bd11bda;
  let x0 = c0 + k0;
  let x1 = c1 + k1;
  x0 += x1; x1 = rotl(x1, 13) ^ x0; x0 += x1; x1 = rotl(x1, 15) ^ x0;
  x0 += x1; x1 = rotl(x1, 26) ^ x0; x0 += x1; x1 = rotl(x1, 6) ^ x0;
  x0 += k1; x1 += ks2 + 1;
  x0 += x1; x1 = rotl(x1, 17) ^ x0; x0 += x1; x1 = rotl(x1, 29) ^ x0;
  x0 += x1; x1 = rotl(x1, 16) ^ x0; x0 += x1; x1 = rotl(x1, 24) ^ x0;
  x0 += ks2; x1 += k0 + 2;
  x0 += x1; x1 = rotl(x1, 13) ^ x0; x0 += x1; x1 = rotl(x1, 15) ^ x0;
  x0 += x1; x1 = rotl(x1, 26) ^ x0; x0 += x1; x1 = rotl(x1, 6) ^ x0;
  x0 += k0; x1 += k1 + 3;
  x0 += x1; x1 = rotl(x1, 17) ^ x0; x0 += x1; x1 = rotl(x1, 29) ^ x0;
  x0 += x1; x1 = rotl(x1, 16) ^ x0; x0 += x1; x1 = rotl(x1, 24) ^ x0;
  x0 += k1; x1 += ks2 + 4;
  x0 += x1; x1 = rotl(x1, 13) ^ x0; x0 += x1; x1 = rotl(x1, 15) ^ x0;
  x0 += x1; x1 = rotl(x1, 26) ^ x0; x0 += x1; x1 = rotl(x1, 6) ^ x0;
  x0 += ks2; x1 += k0 + 5;
  out0 = x0;
  out1 = x1;
}

let spareIndex: u64 = <u64>-1;
let spare: f64 = 0;

/** Element i of the normal stream of key (k0, k1). */
export function normalAt(k0: u32, k1: u32, i: u64): f64 {
  if (i == spareIndex) return spare;
  const block = i >> 1;
  threefry(k0, k1, <u32>(block >> 32), <u32>block);
  const r = Math.sqrt(-2 * Math.log((<f64>out0 + 0.5) * 2.3283064365386963e-10));
  const theta = 2 * Math.PI * ((<f64>out1 + 0.5) * 2.3283064365386963e-10);
  // The other element of the pair is kept for the next call, the common case in a sweep.
  if ((i & 1) == 0) {
    spareIndex = i + 1;
    spare = r * Math.sin(theta);
    return r * Math.cos(theta);
  }
  spareIndex = i - 1;
  spare = r * Math.cos(theta);
  return r * Math.sin(theta);
}

// @ts-ignore: decorator
@inline function rotl4(x: v128, r: i32): v128 {
  return v128.or(i32x4.shl(x, r), i32x4.shr_u(x, 32 - r));
}

// @ts-ignore: decorator
@inline function mix4(x0: v128, x1: v128, r: i32): v128 {
  return v128.xor(rotl4(x1, r), x0);
}

/** Lanes of x negated where the mask is set. */
// @ts-ignore: decorator
@inline function negateWhere(x: v128, mask: v128): v128 {
  return v128.xor(x, v128.and(mask, i32x4.splat(<i32>0x80000000)));
}

/** ln x for x in (0, 1], f32 lanes: exponent, mantissa in [√½, √2), then 2·atanh((m−1)/(m+1)). */
// @ts-ignore: decorator
@inline function log4(x: v128): v128 {
  const bits = x;
  let e = i32x4.sub(i32x4.shr_u(bits, 23), i32x4.splat(127));
  let m = v128.or(v128.and(bits, i32x4.splat(0x007fffff)), i32x4.splat(0x3f800000));
  const big = f32x4.gt(m, f32x4.splat(1.4142135623730951));
  m = v128.bitselect(f32x4.mul(m, f32x4.splat(0.5)), m, big);
  e = i32x4.sub(e, big); // a true mask is −1, so this adds 1
  const s = f32x4.div(f32x4.sub(m, f32x4.splat(1)), f32x4.add(m, f32x4.splat(1)));
  const s2 = f32x4.mul(s, s);
  let p = f32x4.splat(<f32>(1.0 / 9));
  p = f32x4.add(f32x4.mul(p, s2), f32x4.splat(<f32>(1.0 / 7)));
  p = f32x4.add(f32x4.mul(p, s2), f32x4.splat(<f32>(1.0 / 5)));
  p = f32x4.add(f32x4.mul(p, s2), f32x4.splat(<f32>(1.0 / 3)));
  p = f32x4.add(f32x4.mul(p, s2), f32x4.splat(1));
  const lnm = f32x4.mul(f32x4.mul(p, s), f32x4.splat(2));
  return f32x4.add(f32x4.mul(f32x4.convert_i32x4_s(e), f32x4.splat(0.6931471805599453)), lnm);
}

/**
 * Normals for float32 kernels, elements [start, start + count) of the stream of key (k0, k1), into
 * out (f32): Threefry on 4 blocks at once in i32x4 lanes, then Box–Muller with f32-accurate
 * vectorised log and sin/cos (within 2e-6 of the exact stream: the resolution of f32 uniforms, times
 * a radius up to 6.7). Elements are made in
 * groups of 8 aligned to the stream, so a value never depends on the slice it was asked for in.
 */
export function normalsF32(k0: u32, k1: u32, start: u64, count: i32, out: usize): void {
  const end = start + <u64>count;
  const ks2 = k0 ^ k1 ^ 0x1bd11bda;
  const K0 = i32x4.splat(k0), K1 = i32x4.splat(k1), K2 = i32x4.splat(ks2);
  for (let group = start >> 3; (group << 3) < end; group++) {
    const block = group << 2;
    let x0 = i32x4.add(i32x4.splat(<i32>(block >> 32)), K0);
    let x1 = i32x4.add(i32x4.add(i32x4.splat(<i32>block), i32x4(0, 1, 2, 3)), K1);
    x0 = i32x4.add(x0, x1); x1 = mix4(x0, x1, 13); x0 = i32x4.add(x0, x1); x1 = mix4(x0, x1, 15);
    x0 = i32x4.add(x0, x1); x1 = mix4(x0, x1, 26); x0 = i32x4.add(x0, x1); x1 = mix4(x0, x1, 6);
    x0 = i32x4.add(x0, K1); x1 = i32x4.add(x1, i32x4.add(K2, i32x4.splat(1)));
    x0 = i32x4.add(x0, x1); x1 = mix4(x0, x1, 17); x0 = i32x4.add(x0, x1); x1 = mix4(x0, x1, 29);
    x0 = i32x4.add(x0, x1); x1 = mix4(x0, x1, 16); x0 = i32x4.add(x0, x1); x1 = mix4(x0, x1, 24);
    x0 = i32x4.add(x0, K2); x1 = i32x4.add(x1, i32x4.add(K0, i32x4.splat(2)));
    x0 = i32x4.add(x0, x1); x1 = mix4(x0, x1, 13); x0 = i32x4.add(x0, x1); x1 = mix4(x0, x1, 15);
    x0 = i32x4.add(x0, x1); x1 = mix4(x0, x1, 26); x0 = i32x4.add(x0, x1); x1 = mix4(x0, x1, 6);
    x0 = i32x4.add(x0, K0); x1 = i32x4.add(x1, i32x4.add(K1, i32x4.splat(3)));
    x0 = i32x4.add(x0, x1); x1 = mix4(x0, x1, 17); x0 = i32x4.add(x0, x1); x1 = mix4(x0, x1, 29);
    x0 = i32x4.add(x0, x1); x1 = mix4(x0, x1, 16); x0 = i32x4.add(x0, x1); x1 = mix4(x0, x1, 24);
    x0 = i32x4.add(x0, K1); x1 = i32x4.add(x1, i32x4.add(K2, i32x4.splat(4)));
    x0 = i32x4.add(x0, x1); x1 = mix4(x0, x1, 13); x0 = i32x4.add(x0, x1); x1 = mix4(x0, x1, 15);
    x0 = i32x4.add(x0, x1); x1 = mix4(x0, x1, 26); x0 = i32x4.add(x0, x1); x1 = mix4(x0, x1, 6);
    x0 = i32x4.add(x0, K2); x1 = i32x4.add(x1, i32x4.add(K0, i32x4.splat(5)));

    // Uniforms in (0, 1]: (u + ½)·2⁻³² from the unsigned words.
    const scale = f32x4.splat(2.3283064365386963e-10);
    const u1 = f32x4.mul(f32x4.add(f32x4.convert_i32x4_u(x0), f32x4.splat(0.5)), scale);
    const u2 = f32x4.mul(f32x4.add(f32x4.convert_i32x4_u(x1), f32x4.splat(0.5)), scale);
    const r = f32x4.sqrt(f32x4.mul(f32x4.splat(-2), log4(u1)));
    // 2π·u2 = q·π/2 + f with f in [−π/4, π/4].
    const t = f32x4.mul(u2, f32x4.splat(4));
    const qf = f32x4.nearest(t);
    const f = f32x4.mul(f32x4.sub(t, qf), f32x4.splat(1.5707963267948966));
    const q = i32x4.trunc_sat_f32x4_s(qf);
    const f2 = f32x4.mul(f, f);
    let sp = f32x4.splat(<f32>(1.0 / 362880));
    sp = f32x4.add(f32x4.mul(sp, f2), f32x4.splat(<f32>(-1.0 / 5040)));
    sp = f32x4.add(f32x4.mul(sp, f2), f32x4.splat(<f32>(1.0 / 120)));
    sp = f32x4.add(f32x4.mul(sp, f2), f32x4.splat(<f32>(-1.0 / 6)));
    sp = f32x4.add(f32x4.mul(sp, f2), f32x4.splat(1));
    const sinF = f32x4.mul(sp, f);
    let cp = f32x4.splat(<f32>(-1.0 / 3628800));
    cp = f32x4.add(f32x4.mul(cp, f2), f32x4.splat(<f32>(1.0 / 40320)));
    cp = f32x4.add(f32x4.mul(cp, f2), f32x4.splat(<f32>(-1.0 / 720)));
    cp = f32x4.add(f32x4.mul(cp, f2), f32x4.splat(<f32>(1.0 / 24)));
    cp = f32x4.add(f32x4.mul(cp, f2), f32x4.splat(-0.5));
    const cosF = f32x4.add(f32x4.mul(cp, f2), f32x4.splat(1));
    // Quadrants: sin θ is ±sin f (q even) or ±cos f (q odd); cos θ the other one.
    const odd = i32x4.eq(v128.and(q, i32x4.splat(1)), i32x4.splat(1));
    const sinNeg = i32x4.ne(v128.and(q, i32x4.splat(2)), i32x4.splat(0));
    const cosNeg = i32x4.eq(v128.and(i32x4.add(q, i32x4.splat(1)), i32x4.splat(2)), i32x4.splat(2));
    const sinT = negateWhere(v128.bitselect(cosF, sinF, odd), sinNeg);
    const cosT = negateWhere(v128.bitselect(sinF, cosF, odd), cosNeg);
    const z0 = f32x4.mul(r, cosT);
    const z1 = f32x4.mul(r, sinT);
    // Element 2b of the group is block b's cosine normal, element 2b + 1 its sine normal.
    const lo = v128.shuffle<f32>(z0, z1, 0, 4, 1, 5);
    const hi = v128.shuffle<f32>(z0, z1, 2, 6, 3, 7);
    const first = group << 3;
    if (first >= start && first + 8 <= end) {
      const at = out + (<usize>(first - start) << 2);
      v128.store(at, lo);
      v128.store(at, hi, 16);
    } else {
      for (let e: u64 = 0; e < 8; e++) {
        const i = first + e;
        if (i < start || i >= end) continue;
        const lane = <u8>(e & 3);
        const v = e < 4 ? lo : hi;
        let value: f32 = 0;
        if (lane == 0) value = f32x4.extract_lane(v, 0);
        else if (lane == 1) value = f32x4.extract_lane(v, 1);
        else if (lane == 2) value = f32x4.extract_lane(v, 2);
        else value = f32x4.extract_lane(v, 3);
        store<f32>(out + (<usize>(i - start) << 2), value);
      }
    }
  }
}
