/**
 * HMC's energy diagnostic (Betancourt 2016, "Diagnosing suboptimal cotangent disintegrations in
 * Hamiltonian Monte Carlo"; ArviZ's plot_energy): the marginal energy distribution against the
 * distribution of energy changes between successive draws. When the transitions are much
 * narrower than the marginal, momentum resampling cannot move the chain across energy levels fast
 * enough and the sampler explores heavy tails poorly; E-BFMI measures that ratio per chain.
 */
import { checkShape, colour, documentSize, extent, FRAME, label, legend, LegendEntry, linearScale, num, svgDocument, xAxis, yAxis } from './svg';

/** Below this E-BFMI, Stan and ArviZ warn that the sampler may not explore the posterior's tails. */
const LOW_EBFMI = 0.3;

/**
 * Per chain, Σ_t (E_t − E_{t−1})² / Σ_t (E_t − Ē_c)² (Betancourt 2016, eq. 9). NaN where it is
 * undefined: fewer than two draws, constant energy, or a non-finite energy in the chain.
 * ArviZ's bfmi divides means instead of sums, which differs by the factor T/(T−1).
 */
export function ebfmi(energy: Float64Array, chains: number, draws: number): number[] {
  checkShape('ebfmi', energy, chains, draws);
  const out: number[] = [];
  for (let c = 0; c < chains; c++) {
    const row = energy.subarray(c * draws, (c + 1) * draws);
    let mean = 0;
    for (const e of row) mean += e / draws;
    let transitions = 0;
    let spread = 0;
    for (let t = 0; t < draws; t++) {
      if (t > 0) transitions += (row[t] - row[t - 1]) ** 2;
      spread += (row[t] - mean) ** 2;
    }
    const value = transitions / spread;
    out.push(draws >= 2 && Number.isFinite(value) ? value : NaN);
  }
  return out;
}

/** The finite values, each less their mean. */
function centred(values: number[]): Float64Array {
  const finite = values.filter(Number.isFinite);
  const mean = finite.reduce((a, b) => a + b, 0) / finite.length;
  return Float64Array.from(finite, (v) => v - mean);
}

/** Density per bin, so that the two histograms compare although there are fewer transitions than draws. */
function density(values: Float64Array, lo: number, binWidth: number, bins: number): Float64Array {
  const out = new Float64Array(bins);
  for (const v of values) out[Math.min(bins - 1, Math.floor((v - lo) / binWidth))] += 1 / (values.length * binWidth);
  return out;
}

const MIN_BINS = 5;
const MAX_BINS = 50;

export interface EnergyPlotOptions {
  /** The Hamiltonian at each kept draw, chains × draws, row-major by chain. */
  energy: Float64Array;
  chains: number;
  draws: number;
  title: string;
}

export function energyPlot(opts: EnergyPlotOptions): string {
  const { energy, chains, draws } = opts;
  checkShape('energyPlot', energy, chains, draws);
  const marginal = centred(Array.from(energy));
  const steps: number[] = [];
  for (let c = 0; c < chains; c++) for (let t = 1; t < draws; t++) steps.push(energy[c * draws + t] - energy[c * draws + t - 1]);
  const transitions = centred(steps);

  const range = extent([marginal, transitions]);
  const [lo, hi] = range && range[0] < range[1] ? range : [(range?.[0] ?? 0) - 0.5, (range?.[0] ?? 0) + 0.5];
  // The square-root rule on the larger sample, clamped so short runs still show a shape and long ones stay light.
  const bins = Math.min(MAX_BINS, Math.max(MIN_BINS, Math.ceil(Math.sqrt(Math.max(marginal.length, transitions.length)))));
  const binWidth = (hi - lo) / bins;
  const histograms = [
    { name: 'marginal energy E − mean', values: marginal, colour: colour(0) },
    { name: 'transition ΔE − mean', values: transitions, colour: colour(1) },
  ].map((h) => ({ ...h, density: density(h.values, lo, binWidth, bins) }));

  const frame = FRAME;
  const x = linearScale([lo, hi], [frame.left, frame.left + frame.width]);
  const tallest = Math.max(0, ...histograms.flatMap((h) => Array.from(h.density)));
  const y = linearScale([0, tallest > 0 ? tallest : 1], [frame.top + frame.height, frame.top]);
  const areas = histograms
    .filter((h) => h.values.length > 0 && Number.isFinite(binWidth) && binWidth > 0)
    .map((h) => {
      const outline = Array.from(h.density, (d, b) => `V${num(y.map(d))}H${num(x.map(lo + (b + 1) * binWidth))}`).join('');
      const path = `M${num(x.map(lo))},${num(y.map(0))}${outline}V${num(y.map(0))}Z`;
      return `<path class="histogram" d="${path}" fill="${h.colour}" fill-opacity="0.45" stroke="${h.colour}" stroke-width="1"/>`;
    });

  const entries: LegendEntry[] = histograms.map((h) => ({ label: h.name, swatch: { colour: h.colour, kind: 'area' } }));
  entries.push({ label: '' }, { label: `E-BFMI (low < ${LOW_EBFMI}):` });
  ebfmi(energy, chains, draws).forEach((value, c) => entries.push({ label: `chain ${c}: ${label(value, 2)}${value < LOW_EBFMI ? ' (low)' : ''}` }));
  const key = legend(frame, entries);

  const body = yAxis(frame, y, 'density') + xAxis(frame, x, 'energy, centred') + areas.join('') + key.svg;
  return svgDocument(documentSize(frame, key.width), opts.title, body);
}
