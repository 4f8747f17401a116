/**
 * MCMC convergence diagnostics of Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021),
 * "Rank-normalization, folding, and localization: an improved R̂", as ArviZ and Stan compute them:
 *   - ESS with Geyer's initial monotone sequence over the combined autocorrelation of all chains;
 *   - bulk ESS: ESS of the rank-normalised split chains;
 *   - tail ESS: the smaller ESS of the 5% and 95% quantile indicators (split chains);
 *   - R̂: the larger of the split R̂ of the rank-normalised draws and of their folded version;
 *   - MCSE of the mean: sd / √(ESS of the split chains).
 * Draws are chains × draws, row-major by chain. Undefined results (too few draws, non-finite or
 * constant draws) are NaN, which the artifacts write as null.
 */

export interface ChainDiagnostics {
  ess_bulk: number;
  ess_tail: number;
  r_hat: number;
  mcse_mean: number;
  /** ESS of the (unnormalised) split chains, the one the MCSE of the mean uses. */
  ess_mean: number;
}

/** Drops the middle draw of odd-length chains and splits each chain in two: 2C chains of ⌊T/2⌋. */
export function splitChains(x: Float64Array, chains: number, draws: number): { x: Float64Array; chains: number; draws: number } {
  const half = Math.floor(draws / 2);
  const out = new Float64Array(2 * chains * half);
  for (let c = 0; c < chains; c++) {
    out.set(x.subarray(c * draws, c * draws + half), 2 * c * half);
    out.set(x.subarray(c * draws + draws - half, (c + 1) * draws), (2 * c + 1) * half);
  }
  return { x: out, chains: 2 * chains, draws: half };
}

/** Average ranks (1-based) of all values, ties sharing the mean of their ranks. */
function ranks(x: Float64Array): Float64Array {
  const order = Array.from(x.keys()).sort((a, b) => x[a] - x[b]);
  const r = new Float64Array(x.length);
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j + 1 < order.length && x[order[j + 1]] === x[order[i]]) j++;
    const avg = (i + j) / 2 + 1;
    for (let k = i; k <= j; k++) r[order[k]] = avg;
    i = j + 1;
  }
  return r;
}

/** Φ⁻¹ by Acklam's rational approximation (relative error below 1.2e-9: ample for ranks). */
export function normalQuantile(p: number): number {
  const a = [-39.69683028665376, 220.9460984245205, -275.9285104469687, 138.357751867269, -30.66479806614716, 2.506628277459239];
  const b = [-54.47609879822406, 161.5858368580409, -155.6989798598866, 66.80131188771972, -13.28068155288572];
  const c = [-0.007784894002430293, -0.3223964580411365, -2.400758277161838, -2.549732539343734, 4.374664141464968, 2.938163982698783];
  const d = [0.007784695709041462, 0.3224671290700398, 2.445134137142996, 3.754408661907416];
  const low = 0.02425;
  let x: number;
  if (p < low) {
    const q = Math.sqrt(-2 * Math.log(p));
    x = (((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  } else if (p <= 1 - low) {
    const q = p - 0.5;
    const r = q * q;
    x = ((((((a[0] * r + a[1]) * r + a[2]) * r + a[3]) * r + a[4]) * r + a[5]) * q) / (((((b[0] * r + b[1]) * r + b[2]) * r + b[3]) * r + b[4]) * r + 1);
  } else {
    const q = Math.sqrt(-2 * Math.log(1 - p));
    x = -(((((c[0] * q + c[1]) * q + c[2]) * q + c[3]) * q + c[4]) * q + c[5]) / ((((d[0] * q + d[1]) * q + d[2]) * q + d[3]) * q + 1);
  }
  return x;
}

/** Rank normalisation: z = Φ⁻¹((rank − 3/8) / (S + 1/4)) over all S draws pooled. */
export function zScale(x: Float64Array): Float64Array {
  const r = ranks(x);
  const S = x.length;
  return r.map((v) => normalQuantile((v - 0.375) / (S + 0.25)));
}

/** Quantile with linear interpolation between order statistics (numpy's default). */
export function quantile(x: Float64Array, q: number): number {
  const s = Float64Array.from(x).sort();
  const h = (s.length - 1) * q;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, s.length - 1);
  return s[lo] + (h - lo) * (s[hi] - s[lo]);
}

/** In-place iterative radix-2 FFT of (re, im); the length must be a power of two. */
function fft(re: Float64Array, im: Float64Array): void {
  const n = re.length;
  for (let i = 1, j = 0; i < n; i++) {
    let bit = n >> 1;
    for (; j & bit; bit >>= 1) j ^= bit;
    j ^= bit;
    if (i < j) {
      [re[i], re[j]] = [re[j], re[i]];
      [im[i], im[j]] = [im[j], im[i]];
    }
  }
  for (let len = 2; len <= n; len <<= 1) {
    const ang = (-2 * Math.PI) / len;
    for (let i = 0; i < n; i += len) {
      for (let k = 0; k < len / 2; k++) {
        const wr = Math.cos(ang * k);
        const wi = Math.sin(ang * k);
        const ur = re[i + k];
        const ui = im[i + k];
        const vr = re[i + k + len / 2] * wr - im[i + k + len / 2] * wi;
        const vi = re[i + k + len / 2] * wi + im[i + k + len / 2] * wr;
        re[i + k] = ur + vr;
        im[i + k] = ui + vi;
        re[i + k + len / 2] = ur - vr;
        im[i + k + len / 2] = ui - vi;
      }
    }
  }
}

/** Biased autocovariance (divided by n) at every lag, through a zero-padded FFT. */
export function autocovariance(x: Float64Array): Float64Array {
  const n = x.length;
  let mean = 0;
  for (const v of x) mean += v;
  mean /= n;
  let size = 1;
  while (size < 2 * n) size <<= 1;
  const re = new Float64Array(size);
  const im = new Float64Array(size);
  for (let i = 0; i < n; i++) re[i] = x[i] - mean;
  fft(re, im);
  for (let i = 0; i < size; i++) {
    re[i] = re[i] * re[i] + im[i] * im[i];
    im[i] = 0;
  }
  // The inverse transform of a real, even spectrum: conjugate trick with the forward FFT.
  fft(re, im);
  return Float64Array.from({ length: n }, (_, k) => re[k] / size / n);
}

const valid = (x: Float64Array, draws: number) => draws >= 4 && x.every(Number.isFinite);

/** Effective sample size of chains × draws (Geyer's initial monotone sequence, Stan's combination over chains). */
export function ess(x: Float64Array, chains: number, draws: number): number {
  if (!valid(x, draws)) return NaN;
  const acov = Array.from({ length: chains }, (_, c) => autocovariance(x.subarray(c * draws, (c + 1) * draws)));
  const chainMeans = Array.from({ length: chains }, (_, c) => x.subarray(c * draws, (c + 1) * draws).reduce((a, b) => a + b, 0) / draws);
  const meanAcov = (lag: number) => acov.reduce((s, a) => s + a[lag], 0) / chains;
  const meanVar = (meanAcov(0) * draws) / (draws - 1);
  let varPlus = (meanVar * (draws - 1)) / draws;
  if (chains > 1) {
    const m = chainMeans.reduce((a, b) => a + b, 0) / chains;
    varPlus += chainMeans.reduce((s, v) => s + (v - m) ** 2, 0) / (chains - 1);
  }
  if (!(varPlus > 0)) return NaN;
  const rho = new Float64Array(draws);
  rho[0] = 1;
  let rhoEven = 1;
  let rhoOdd = 1 - (meanVar - meanAcov(1)) / varPlus;
  rho[1] = rhoOdd;
  // Geyer's initial positive sequence: sum autocorrelations in pairs while the pair sums are positive.
  let t = 1;
  while (t < draws - 3 && rhoEven + rhoOdd > 0) {
    rhoEven = 1 - (meanVar - meanAcov(t + 1)) / varPlus;
    rhoOdd = 1 - (meanVar - meanAcov(t + 2)) / varPlus;
    if (rhoEven + rhoOdd >= 0) {
      rho[t + 1] = rhoEven;
      rho[t + 2] = rhoOdd;
    }
    t += 2;
  }
  const maxT = t - 2;
  if (rhoEven > 0) rho[maxT + 1] = rhoEven;
  // Geyer's initial monotone sequence: the pair sums may not increase.
  for (let u = 1; u <= maxT - 2; u += 2) {
    if (rho[u + 1] + rho[u + 2] > rho[u - 1] + rho[u]) {
      rho[u + 1] = (rho[u - 1] + rho[u]) / 2;
      rho[u + 2] = rho[u + 1];
    }
  }
  const total = chains * draws;
  let tau = -1;
  for (let k = 0; k <= maxT; k++) tau += 2 * rho[k];
  tau += rho[maxT + 1];
  tau = Math.max(tau, 1 / Math.log10(total));
  return total / tau;
}

/** Split R̂ of chains × draws (the classic potential scale reduction factor). */
function splitRhatOf(x: Float64Array, chains: number, draws: number): number {
  const means = new Float64Array(chains);
  let within = 0;
  for (let c = 0; c < chains; c++) {
    const chain = x.subarray(c * draws, (c + 1) * draws);
    const m = chain.reduce((a, b) => a + b, 0) / draws;
    means[c] = m;
    within += chain.reduce((s, v) => s + (v - m) ** 2, 0) / (draws - 1);
  }
  within /= chains;
  const grand = means.reduce((a, b) => a + b, 0) / chains;
  const between = (draws * means.reduce((s, m) => s + (m - grand) ** 2, 0)) / (chains - 1);
  return Math.sqrt((between / within + draws - 1) / draws);
}

export function essBulk(x: Float64Array, chains: number, draws: number): number {
  if (!valid(x, draws)) return NaN;
  const s = splitChains(x, chains, draws);
  return ess(zScale(s.x), s.chains, s.draws);
}

export function essTail(x: Float64Array, chains: number, draws: number): number {
  if (!valid(x, draws)) return NaN;
  const s = splitChains(x, chains, draws);
  const indicatorEss = (q: number) => {
    const cut = quantile(x, q);
    return ess(s.x.map((v) => (v <= cut ? 1 : 0)), s.chains, s.draws);
  };
  return Math.min(indicatorEss(0.05), indicatorEss(0.95));
}

export function essMean(x: Float64Array, chains: number, draws: number): number {
  if (!valid(x, draws)) return NaN;
  const s = splitChains(x, chains, draws);
  return ess(s.x, s.chains, s.draws);
}

/** Rank-normalised split R̂: the larger of the bulk and the folded (tail) versions. */
export function rhat(x: Float64Array, chains: number, draws: number): number {
  if (!valid(x, draws)) return NaN;
  const s = splitChains(x, chains, draws);
  const median = quantile(s.x, 0.5);
  const bulk = splitRhatOf(zScale(s.x), s.chains, s.draws);
  const tail = splitRhatOf(zScale(s.x.map((v) => Math.abs(v - median))), s.chains, s.draws);
  return Math.max(bulk, tail);
}

export function mcseMean(x: Float64Array, chains: number, draws: number): number {
  const n = x.length;
  const mean = x.reduce((a, b) => a + b, 0) / n;
  const sd = Math.sqrt(x.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  return sd / Math.sqrt(essMean(x, chains, draws));
}

export function chainDiagnostics(x: Float64Array, chains: number, draws: number): ChainDiagnostics {
  return {
    ess_bulk: essBulk(x, chains, draws),
    ess_tail: essTail(x, chains, draws),
    r_hat: rhat(x, chains, draws),
    mcse_mean: mcseMean(x, chains, draws),
    ess_mean: essMean(x, chains, draws),
  };
}
