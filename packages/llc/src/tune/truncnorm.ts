/**
 * The standard normal CDF Φ and quantile Φ⁻¹ to near double precision, and the two truncated-normal
 * operations the Parzen estimators of TPE need (tpe.ts, parzen.ts): the log probability mass of an
 * interval and a draw by inversion.
 *
 * erfc comes from the positive-term series of Abramowitz & Stegun 7.1.6 near zero and the
 * continued fraction 7.1.14 in the tail, so Φ keeps its relative precision deep into the lower
 * tail (where a Gaussian kernel far from a point must still give a usable log density). Φ⁻¹ is
 * Acklam's rational approximation (relative error 1.2e-9) polished by one Halley step on Φ.
 * Upper-tail quantities are always computed by symmetry from lower-tail ones, never as 1 − Φ.
 */

const SQRT1_2 = Math.SQRT1_2;
const TWO_OVER_SQRT_PI = 2 / Math.sqrt(Math.PI);
const SQRT_2PI = Math.sqrt(2 * Math.PI);
/** Below this, the series for erf converges in < 50 terms; above it, the continued fraction in < 60. */
const ERFC_SERIES_LIMIT = 2;

/** erf(z) = 2/√π · e^{−z²} · Σ 2ⁿ z^{2n+1} / (1·3·…·(2n+1)) (A&S 7.1.6): all terms positive, no cancellation. */
function erfSeries(z: number): number {
  let term = z;
  let sum = z;
  const z2 = z * z;
  for (let n = 1; n < 200; n++) {
    term *= (2 * z2) / (2 * n + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return TWO_OVER_SQRT_PI * Math.exp(-z2) * sum;
}

/**
 * erfc(z) for z ≥ ERFC_SERIES_LIMIT by the continued fraction (A&S 7.1.14)
 * √π·e^{z²}·erfc(z) = 1/(z + ½/(z + 1/(z + 3⁄2/(z + …)))), evaluated with the modified Lentz method.
 */
function erfcContinuedFraction(z: number): number {
  const tiny = 1e-300;
  let f = z;
  let c = z;
  let d = 0;
  for (let k = 1; k < 500; k++) {
    const a = k / 2;
    d = z + a * d;
    d = d === 0 ? tiny : d;
    c = z + a / c;
    c = c === 0 ? tiny : c;
    d = 1 / d;
    const delta = c * d;
    f *= delta;
    if (Math.abs(delta - 1) < 1e-16) break;
  }
  return Math.exp(-z * z) / (f * Math.sqrt(Math.PI));
}

/** The complementary error function, relatively precise for all z ≥ 0 (absolutely for z < 0). */
function erfc(z: number): number {
  if (z < 0) return 2 - erfc(-z);
  return z < ERFC_SERIES_LIMIT ? 1 - erfSeries(z) : erfcContinuedFraction(z);
}

/** Φ(x), the standard normal CDF; relatively precise for x ≤ 0. */
export function normalCdf(x: number): number {
  return x < 0 ? 0.5 * erfc(-x * SQRT1_2) : 1 - 0.5 * erfc(x * SQRT1_2);
}

/** log φ(x), the standard normal log density. */
export function normalLogPdf(x: number): number {
  return -0.5 * x * x - Math.log(SQRT_2PI);
}

const ACKLAM_A = [-3.969683028665376e1, 2.209460984245205e2, -2.759285104469687e2, 1.38357751867269e2, -3.066479806614716e1, 2.506628277459239];
const ACKLAM_B = [-5.447609879822406e1, 1.615858368580409e2, -1.556989798598866e2, 6.680131188771972e1, -1.328068155288572e1];
const ACKLAM_C = [-7.784894002430293e-3, -3.223964580411365e-1, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
const ACKLAM_D = [7.784695709041462e-3, 3.224671290700398e-1, 2.445134137142996, 3.754408661907416];
const ACKLAM_TAIL = 0.02425;

/** Acklam's approximation of Φ⁻¹(p) for 0 < p ≤ ½. */
function acklamLower(p: number): number {
  if (p < ACKLAM_TAIL) {
    const q = Math.sqrt(-2 * Math.log(p));
    const [c0, c1, c2, c3, c4, c5] = ACKLAM_C;
    const [d0, d1, d2, d3] = ACKLAM_D;
    return (((((c0 * q + c1) * q + c2) * q + c3) * q + c4) * q + c5) / ((((d0 * q + d1) * q + d2) * q + d3) * q + 1);
  }
  const q = p - 0.5;
  const r = q * q;
  const [a0, a1, a2, a3, a4, a5] = ACKLAM_A;
  const [b0, b1, b2, b3, b4] = ACKLAM_B;
  return ((((((a0 * r + a1) * r + a2) * r + a3) * r + a4) * r + a5) * q) / (((((b0 * r + b1) * r + b2) * r + b3) * r + b4) * r + 1);
}

/**
 * Φ⁻¹(p) for 0 < p ≤ ½ (the lower half, where p itself is precise). One Halley step on Φ takes
 * Acklam's 1e-9 to machine precision; Φ's relative precision in the lower tail keeps the step
 * meaningful even for tiny p.
 */
export function normalQuantileLower(p: number): number {
  if (!(p > 0 && p <= 0.5)) throw new RangeError(`normalQuantileLower needs 0 < p ≤ 0.5, got ${p}`);
  const x = acklamLower(p);
  const e = normalCdf(x) - p;
  const u = e * SQRT_2PI * Math.exp(0.5 * x * x);
  return x - u / (1 + 0.5 * x * u);
}

/** log(Φ(b) − Φ(a)) for a < b, computed in whichever tail avoids cancellation; −∞ when it underflows. */
export function logNormalMass(a: number, b: number): number {
  let mass: number;
  if (b <= 0) mass = normalCdf(b) - normalCdf(a);
  else if (a >= 0) mass = normalCdf(-a) - normalCdf(-b);
  else mass = 1 - normalCdf(a) - normalCdf(-b);
  return mass > 0 ? Math.log(mass) : -Infinity;
}

/**
 * The standard normal truncated to [a, b] (a < b) at quantile u ∈ (0, 1): Φ⁻¹ of a point placed
 * by u between Φ(a) and Φ(b). Upper-half points are found from the mirrored lower-half problem so
 * that Φ⁻¹ only ever sees p ≤ ½; the result is clamped into [a, b] against the last rounding.
 */
export function truncatedNormalQuantile(a: number, b: number, u: number): number {
  if (a >= 0) return -truncatedNormalQuantile(-b, -a, 1 - u);
  const below = normalCdf(a);
  const above = b > 0 ? normalCdf(-b) : 0;
  const mass = b > 0 ? 1 - below - above : normalCdf(b) - below;
  const p = below + u * mass;
  // An interval so deep in the lower tail that its mass underflows: its densest point is b.
  if (!(p > 0)) return b;
  const x = p <= 0.5 ? normalQuantileLower(p) : -normalQuantileLower(Math.min(0.5, above + (1 - u) * mass));
  return Math.min(b, Math.max(a, x));
}
