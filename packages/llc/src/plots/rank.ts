/**
 * The rank plot of Vehtari, Gelman, Simpson, Carpenter & Bürkner (2021, "Rank-normalization,
 * folding, and localization"): rank every draw of every chain together, then histogram each
 * chain's ranks. Chains that sample the same distribution give flat histograms; a chain stuck
 * high or low, or mixing slowly, stands out, where a trace plot of many overlapping chains hides it.
 */
import { checkShape, colour, dashedLevel, documentSize, escapeXml, Frame, label, legend, linearScale, num, svgDocument, text, xAxis } from './svg';

/** Roughly five draws per bin or more, so that a flat histogram is recognisable, up to the 20 bins usually shown. */
export function defaultRankBins(draws: number): number {
  return Math.max(1, Math.min(20, Math.floor(draws / 5)));
}

/**
 * Counts per chain per bin of the pooled ranks (1..N, ties averaged; NaN draws are not ranked).
 * Bin b covers ranks in (N·b/bins, N·(b+1)/bins], measured at the middle of each rank's unit
 * interval, so that when bins divides N every bin holds exactly N/bins ranks.
 */
export function rankHistograms(llc: Float64Array, chains: number, draws: number, bins: number): number[][] {
  checkShape('rankHistograms', llc, chains, draws);
  if (!Number.isInteger(bins) || bins < 1) throw new RangeError(`rankHistograms: bins must be a positive integer, got ${bins}`);
  const order: number[] = [];
  for (let i = 0; i < llc.length; i++) if (!Number.isNaN(llc[i])) order.push(i);
  order.sort((a, b) => llc[a] - llc[b] || a - b);
  const ranked = order.length;
  const counts = Array.from({ length: chains }, () => new Array<number>(bins).fill(0));
  for (let first = 0; first < ranked; ) {
    let last = first;
    while (last + 1 < ranked && llc[order[last + 1]] === llc[order[first]]) last++;
    const rank = (first + last) / 2 + 1;
    const bin = Math.min(bins - 1, Math.floor(((rank - 0.5) * bins) / ranked));
    for (let k = first; k <= last; k++) counts[Math.floor(order[k] / draws)][bin]++;
    first = last + 1;
  }
  return counts;
}

export interface RankPlotOptions {
  /** chains × draws, row-major by chain. */
  llc: Float64Array;
  chains: number;
  draws: number;
  title: string;
  /** Defaults to defaultRankBins(draws). */
  bins?: number;
}

const PANEL_HEIGHT = 56;
const PANEL_GAP = 10;
const BAR_GAP = 1;

export function rankPlot(opts: RankPlotOptions): string {
  const { llc, chains, draws } = opts;
  const bins = opts.bins ?? defaultRankBins(draws);
  const counts = rankHistograms(llc, chains, draws, bins);
  const ranked = counts.reduce((sum, row) => sum + row.reduce((a, b) => a + b, 0), 0);
  // The mean count per bin: T/bins when no draw is NaN.
  const expected = chains > 0 ? ranked / (chains * bins) : 0;
  const tallest = Math.max(expected, ...counts.flat(), 1);

  const frame: Frame = { left: 72, top: 40, width: 520, height: Math.max(1, chains) * (PANEL_HEIGHT + PANEL_GAP) - PANEL_GAP };
  const x = linearScale([0, Math.max(1, ranked)], [frame.left, frame.left + frame.width], { minStep: 1, exact: true });
  const binWidth = Math.max(1, ranked) / bins;
  const panels: string[] = [];
  for (let c = 0; c < chains; c++) {
    const panel: Frame = { left: frame.left, top: frame.top + c * (PANEL_HEIGHT + PANEL_GAP), width: frame.width, height: PANEL_HEIGHT };
    const baseline = panel.top + panel.height;
    const barY = (count: number) => baseline - (count / tallest) * panel.height;
    const bars = counts[c].map((count, b) => {
      const x0 = x.map(b * binWidth) + BAR_GAP / 2;
      const width = Math.max(0, x.map((b + 1) * binWidth) - x.map(b * binWidth) - BAR_GAP);
      return `<rect class="bar" x="${num(x0)}" y="${num(barY(count))}" width="${num(width)}" height="${num(baseline - barY(count))}" fill="${colour(c)}" fill-opacity="0.8"><title>${escapeXml(`chain ${c}, bin ${b}: ${count} draws`)}</title></rect>`;
    });
    panels.push(
      `<g class="rank-chain" data-chain="${c}">` +
        `<line x1="${num(panel.left)}" y1="${num(baseline)}" x2="${num(panel.left + panel.width)}" y2="${num(baseline)}" stroke="#999999" stroke-width="1"/>` +
        bars.join('') +
        dashedLevel(panel, barY(expected), '#333333') +
        text(panel.left - 8, panel.top + panel.height / 2 + 4, `chain ${c}`, 'text-anchor="end"') +
        '</g>',
    );
  }

  const key = legend(frame, [
    { label: `uniform: ${label(expected)} per bin`, swatch: { colour: '#333333', kind: 'dashed' } },
    { label: `${bins} ${bins === 1 ? 'bin' : 'bins'}; bar height 0 to ${label(tallest)} draws` },
  ]);
  const body = panels.join('') + xAxis(frame, x, 'rank of draw among all chains') + key.svg;
  const size = documentSize(frame, key.width);
  return svgDocument(size, opts.title, body);
}
