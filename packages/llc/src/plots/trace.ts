/**
 * The trace plot: λ̂ against draw index, one line per chain. Chains that disagree, drift or
 * diverge show here before any summary statistic hides them.
 */
import { checkShape, colour, documentSize, extent, FRAME, legend, line, linearScale, svgDocument, xAxis, yAxis } from './svg';

export interface TracePlotOptions {
  /** chains × draws, row-major by chain. */
  llc: Float64Array;
  chains: number;
  draws: number;
  title: string;
  yLabel?: string;
  /** The quantity along x, one per draw (default "draw"); e.g. "optimisation step" for a VI curve. */
  xLabel?: string;
}

export function tracePlot(opts: TracePlotOptions): string {
  const { llc, chains, draws } = opts;
  checkShape('tracePlot', llc, chains, draws);
  const frame = FRAME;
  const x = linearScale([0, Math.max(1, draws - 1)], [frame.left, frame.left + frame.width], { minStep: 1, exact: true });
  const y = linearScale(extent([llc]), [frame.top + frame.height, frame.top]);

  const xs = new Float64Array(draws);
  for (let t = 0; t < draws; t++) xs[t] = x.map(t);
  const ys = new Float64Array(draws);
  const lines: string[] = [];
  for (let c = 0; c < chains; c++) {
    for (let t = 0; t < draws; t++) ys[t] = y.map(llc[c * draws + t]);
    lines.push(`<g class="chain" data-chain="${c}">${line(xs, ys, colour(c), 'stroke-width="1" stroke-opacity="0.8"')}</g>`);
  }

  const key = legend(
    frame,
    Array.from({ length: chains }, (_, c) => ({ label: `chain ${c}`, swatch: { colour: colour(c), kind: 'line' as const } })),
  );
  const body = yAxis(frame, y, opts.yLabel ?? 'λ̂') + xAxis(frame, x, opts.xLabel ?? 'draw') + lines.join('') + key.svg;
  return svgDocument(documentSize(frame, key.width), opts.title, body);
}
