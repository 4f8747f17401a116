/**
 * The comparison plot of a report: λ̂ of every run with its 95% interval (±1.96·MCSE), grouped by
 * target along x and coloured by sampler, so disagreement between samplers on one target — the
 * question a grid of targets × samplers is run to answer — is visible at a glance.
 */
import { colour, documentSize, escapeXml, extent, FRAME, label, legend, linearScale, num, svgDocument, text, yAxis } from './svg';

export interface ComparisonPoint {
  /** Which series (sampler) the point belongs to: its colour and legend entry. */
  series: string;
  mean: number;
  /** Half-width of the interval drawn around the mean; undefined or non-finite draws the dot alone. */
  halfWidth: number;
  /** Hover text, e.g. the run id. */
  tooltip: string;
}

export interface ComparisonPlotOptions {
  /** One group per target, in order along x. */
  groups: { label: string; points: ComparisonPoint[] }[];
  /** The series in legend order; colours follow this order. */
  series: string[];
  yLabel: string;
  title: string;
}

const DOT_RADIUS = 4;
const WHISKER = 5;
const MIN_GROUP_WIDTH = 120;

export function comparisonPlot(opts: ComparisonPlotOptions): string {
  // Wide enough for a target id under each group: a long grid gets a wider plot, not overlapping labels.
  const frame = { ...FRAME, width: Math.max(FRAME.width, opts.groups.length * MIN_GROUP_WIDTH) };
  const all = opts.groups.flatMap((g) => g.points);
  const finite = (v: number) => (Number.isFinite(v) ? v : NaN);
  const lows = all.map((p) => finite(p.mean - (Number.isFinite(p.halfWidth) ? p.halfWidth : 0)));
  const highs = all.map((p) => finite(p.mean + (Number.isFinite(p.halfWidth) ? p.halfWidth : 0)));
  const y = linearScale(extent([lows, highs]), [frame.top + frame.height, frame.top]);
  const groupWidth = frame.width / Math.max(1, opts.groups.length);
  const slot = groupWidth / (opts.series.length + 1);
  const bottom = frame.top + frame.height;

  const parts: string[] = [`<line x1="${num(frame.left)}" y1="${num(bottom)}" x2="${num(frame.left + frame.width)}" y2="${num(bottom)}" stroke="#333333"/>`];
  opts.groups.forEach((group, g) => {
    const left = frame.left + g * groupWidth;
    if (g > 0) parts.push(`<line x1="${num(left)}" y1="${num(frame.top)}" x2="${num(left)}" y2="${num(bottom)}" stroke="#e5e5e5"/>`);
    parts.push(text(left + groupWidth / 2, bottom + 18, group.label, 'class="tick" text-anchor="middle"'));
    for (const p of group.points) {
      const s = opts.series.indexOf(p.series);
      const x = left + slot * (s + 1);
      const cy = y.map(p.mean);
      if (!Number.isFinite(cy)) continue;
      const c = colour(s);
      const mark: string[] = [];
      if (Number.isFinite(p.halfWidth) && p.halfWidth > 0) {
        const [top, low] = [y.map(p.mean + p.halfWidth), y.map(p.mean - p.halfWidth)];
        mark.push(`<line x1="${num(x)}" y1="${num(top)}" x2="${num(x)}" y2="${num(low)}" stroke="${c}" stroke-width="1.5"/>`);
        for (const end of [top, low]) mark.push(`<line x1="${num(x - WHISKER)}" y1="${num(end)}" x2="${num(x + WHISKER)}" y2="${num(end)}" stroke="${c}" stroke-width="1.5"/>`);
      }
      mark.push(`<circle cx="${num(x)}" cy="${num(cy)}" r="${DOT_RADIUS}" fill="${c}"/>`);
      parts.push(`<g class="point"><title>${escapeXml(`${p.tooltip}: ${label(p.mean, 4)} ± ${label(p.halfWidth, 2)}`)}</title>${mark.join('')}</g>`);
    }
  });
  parts.push(text(frame.left + frame.width / 2, bottom + 42, 'target', 'class="axis-label" text-anchor="middle" font-size="12"'));
  const key = legend(
    frame,
    opts.series.map((name, s) => ({ label: name, swatch: { colour: colour(s), kind: 'line' as const } })),
  );
  return svgDocument(documentSize(frame, key.width), opts.title, yAxis(frame, y, opts.yLabel) + parts.join('') + key.svg);
}
