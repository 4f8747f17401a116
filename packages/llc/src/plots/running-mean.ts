/**
 * The running-mean plot: the λ̂ estimate as the run goes on, against work (FGE) or wall time, with
 * a 95% band from the spread between chains. It shows whether the estimate has settled and what a
 * shorter run would have reported, which is what comparing samplers at equal cost needs.
 */
import { band, checkShape, colour, dashedLevel, documentSize, extent, FRAME, legend, LegendEntry, line, linearScale, logScale, svgDocument, xAxis, yAxis } from './svg';

/** The first draws' cumulative means rest on a handful of values; a band there would only stretch the y-axis. */
const BAND_START = 10;
const Z_95 = 1.96;

export interface RunningMeanBand {
  /** At draw t, the mean over chains of each chain's mean of draws 0..t. */
  mean: Float64Array;
  /** mean ∓ 1.96·SEM, where SEM is the sample std (ddof 1) of the chains' cumulative means over √chains; NaN before startIndex. */
  lower: Float64Array;
  upper: Float64Array;
  /** min(10, draws − 1), or draws (no band) with fewer than two chains. */
  startIndex: number;
}

export function runningMeanBand(llc: Float64Array, chains: number, draws: number): RunningMeanBand {
  checkShape('runningMeanBand', llc, chains, draws);
  const mean = new Float64Array(draws).fill(NaN);
  const lower = new Float64Array(draws).fill(NaN);
  const upper = new Float64Array(draws).fill(NaN);
  const startIndex = chains >= 2 ? Math.max(0, Math.min(BAND_START, draws - 1)) : draws;
  const sums = new Float64Array(chains);
  const cumulative = new Float64Array(chains);
  for (let t = 0; t < draws; t++) {
    let total = 0;
    for (let c = 0; c < chains; c++) {
      sums[c] += llc[c * draws + t];
      cumulative[c] = sums[c] / (t + 1);
      total += cumulative[c];
    }
    mean[t] = total / chains;
    if (t < startIndex) continue;
    let squares = 0;
    for (let c = 0; c < chains; c++) squares += (cumulative[c] - mean[t]) ** 2;
    const halfWidth = Z_95 * Math.sqrt(squares / (chains - 1) / chains);
    lower[t] = mean[t] - halfWidth;
    upper[t] = mean[t] + halfWidth;
  }
  return { mean, lower, upper, startIndex };
}

export interface RunningMeanPlotOptions {
  /** chains × draws, row-major by chain. */
  llc: Float64Array;
  chains: number;
  draws: number;
  /** The x position of each draw, e.g. cumulative FGE or seconds; length draws. */
  x: Float64Array;
  xLabel: string;
  /** On a log axis, draws at x ≤ 0 are left out. */
  logX: boolean;
  title: string;
  /** A known or reference λ, drawn as a dashed level. */
  reference?: { value: number; label: string };
}

export function runningMeanPlot(opts: RunningMeanPlotOptions): string {
  const { llc, chains, draws } = opts;
  checkShape('runningMeanPlot', llc, chains, draws);
  if (opts.x.length !== draws) throw new RangeError(`runningMeanPlot: expected ${draws} x values, got ${opts.x.length}`);
  const { mean, lower, upper } = runningMeanBand(llc, chains, draws);
  const reference = opts.reference && Number.isFinite(opts.reference.value) ? opts.reference : undefined;

  const frame = FRAME;
  const xPixels: [number, number] = [frame.left, frame.left + frame.width];
  const x = opts.logX ? logScale(extent([opts.x], true), xPixels) : linearScale(extent([opts.x]), xPixels);
  const y = linearScale(extent([mean, lower, upper, reference ? [reference.value] : []]), [frame.top + frame.height, frame.top]);

  const xs = opts.x.map((v) => x.map(v));
  const meanColour = colour(0);
  const referenceColour = colour(3);
  const entries: LegendEntry[] = [{ label: 'running mean', swatch: { colour: meanColour, kind: 'line' } }];
  if (chains >= 2) entries.push({ label: `±${Z_95}·SEM over ${chains} chains`, swatch: { colour: meanColour, kind: 'area' } });
  if (reference) entries.push({ label: reference.label, swatch: { colour: referenceColour, kind: 'dashed' } });
  const key = legend(frame, entries);

  const body =
    yAxis(frame, y, 'running mean of λ̂') +
    xAxis(frame, x, opts.xLabel) +
    band(xs, lower.map((v) => y.map(v)), upper.map((v) => y.map(v)), meanColour, 0.25) +
    (reference ? dashedLevel(frame, y.map(reference.value), referenceColour, 'class="reference"') : '') +
    line(xs, mean.map((v) => y.map(v)), meanColour, 'stroke-width="1.5"') +
    key.svg;
  return svgDocument(documentSize(frame, key.width), opts.title, body);
}
