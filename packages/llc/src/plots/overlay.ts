/**
 * The convergence overlay of a report: several runs' running λ̂ on one axis (one line and 95% band
 * per sampler), against work or wall time, so samplers are compared at equal cost. A run whose
 * draws all come at the same cost (VI: every draw from q after the optimisation) has no running
 * estimate; it is one marker with its interval at that cost.
 */
import { runningMeanBand } from './running-mean';
import { band, checkShape, colour, documentSize, extent, FRAME, legend, line, linearScale, logScale, num, svgDocument, xAxis, yAxis } from './svg';

export interface OverlaySeries {
  label: string;
  /** chains × draws, row-major by chain. */
  llc: Float64Array;
  chains: number;
  draws: number;
  /** The x position of each draw (cumulative FGE, seconds); length draws. */
  x: Float64Array;
  /** Palette index, so a sampler keeps its colour across plots. */
  colourIndex: number;
  /** The run's reported estimate and 95% half-width. */
  estimate: { mean: number; halfWidth: number };
  /** Draw the estimate alone, at the last x, instead of the running mean. */
  final: boolean;
}

export interface OverlayPlotOptions {
  series: OverlaySeries[];
  xLabel: string;
  logX: boolean;
  title: string;
}

export function overlayPlot(opts: OverlayPlotOptions): string {
  const bands = opts.series.map((s) => {
    checkShape('overlayPlot', s.llc, s.chains, s.draws);
    if (s.x.length !== s.draws) throw new RangeError(`overlayPlot: expected ${s.draws} x values for ${s.label}, got ${s.x.length}`);
    return runningMeanBand(s.llc, s.chains, s.draws);
  });
  const frame = FRAME;
  const xPixels: [number, number] = [frame.left, frame.left + frame.width];
  const xs = opts.series.map((s) => s.x);
  const x = opts.logX ? logScale(extent(xs, true), xPixels) : linearScale(extent(xs), xPixels);
  const oneShot = opts.series.map((s) => s.final);
  const intervals = opts.series.map((s, i) => (oneShot[i] ? [s.estimate.mean - s.estimate.halfWidth, s.estimate.mean + s.estimate.halfWidth] : []));
  const y = linearScale(extent([...bands.flatMap((b, i) => (oneShot[i] ? [] : [b.mean, b.lower, b.upper])), ...intervals]), [frame.top + frame.height, frame.top]);
  const body = opts.series.map((s, i) => {
    const c = colour(s.colourIndex);
    const px = s.x.map((v) => x.map(v));
    const b = bands[i];
    if (oneShot[i]) return `<g class="series">${marker(px[px.length - 1], y.map(s.estimate.mean), y.map(s.estimate.mean - s.estimate.halfWidth), y.map(s.estimate.mean + s.estimate.halfWidth), c)}</g>`;
    return (
      `<g class="series">` +
      band(px, b.lower.map((v) => y.map(v)), b.upper.map((v) => y.map(v)), c, 0.18) +
      line(px, b.mean.map((v) => y.map(v)), c, 'stroke-width="1.5"') +
      `</g>`
    );
  });
  const key = legend(
    frame,
    opts.series.map((s) => ({ label: s.label, swatch: { colour: colour(s.colourIndex), kind: 'line' as const } })),
  );
  return svgDocument(documentSize(frame, key.width), opts.title, yAxis(frame, y, 'running mean of λ̂') + xAxis(frame, x, opts.xLabel) + body.join('') + key.svg);
}

/** A dot with a vertical interval; parts off the axes are left out. */
function marker(x: number, y: number, low: number, high: number, fill: string): string {
  if (!Number.isFinite(x) || !Number.isFinite(y)) return '';
  const whisker = Number.isFinite(low) && Number.isFinite(high) ? `<line x1="${num(x)}" y1="${num(low)}" x2="${num(x)}" y2="${num(high)}" stroke="${fill}" stroke-width="1.5"/>` : '';
  return `${whisker}<circle cx="${num(x)}" cy="${num(y)}" r="4" fill="${fill}"/>`;
}
