/**
 * The comparison plot of a report: λ̂ of every run with its 95% interval (±1.96·MCSE), grouped by
 * target along x and coloured by sampler, so disagreement between samplers on one target — the
 * question a grid of targets × samplers is run to answer — is visible at a glance.
 *
 * A run far from the others on its target (farPoints) is drawn in a panel of its own to the right,
 * on a scale of its own, and marked by an arrow where it would have been: on one shared axis it
 * would squash the others into a few pixels, and their differences are what the plot is for.
 */
import { AGREEMENT } from '../agreement';
import { colour, documentSize, escapeXml, extent, Frame, FRAME, label, legend, linearScale, num, Scale, svgDocument, text, yAxis } from './svg';

export interface ComparisonPoint {
  /** Which series (sampler) the point belongs to: its colour and legend entry. */
  series: string;
  mean: number;
  /** Half-width of the interval drawn around the mean; undefined or non-finite draws the dot alone. */
  halfWidth: number;
  /** Hover text, e.g. the run id. */
  tooltip: string;
  /** The target's reference run (agreement.ts): when the points split in two halves, its half keeps the main axis. */
  reference?: boolean;
}

export interface ComparisonPlotOptions {
  /** One group per target, in order along x; `truth`, where theory gives the target's λ, is drawn as a dashed line across its column. */
  groups: { label: string; points: ComparisonPoint[]; truth?: number }[];
  /** The series in legend order; colours follow this order. */
  series: string[];
  yLabel: string;
  title: string;
}

/**
 * When a target's runs are far from each other (farPoints): more than `factor` times the others'
 * span apart, a span of at least `minRelativeSpan` of their λ̂. On a shared axis the others would
 * then fill less than 1 / (1 + factor) of it, a quarter. The least span is the relative difference
 * the agreement check lets pass (AGREEMENT.relative, agreement.ts): runs that agree about as
 * closely as that, with intervals too narrow to see, do not send a run 10% away to a panel of its own.
 */
export const FAR = { factor: 3, minRelativeSpan: AGREEMENT.relative } as const;

/**
 * The indices of one target's points that are far from the others, to be drawn on an axis of their
 * own; empty when none is. The others, the main points, are points consecutive in λ̂ order that
 *
 * - are at least two, and more than half of the points with a finite λ̂, or half of them with the
 *   reference run among them (two against two is otherwise a tie: the reference's side is the one
 *   the agreement check trusts);
 * - span, from the lowest end of their intervals (mean ± halfWidth) to the highest, a width w > 0,
 *   taken as at least FAR.minRelativeSpan × their largest |λ̂|;
 * - leave every other point's interval more than FAR.factor × w from theirs.
 *
 * Of several such sets the narrowest wins, so that the main axis is the most readable (a run far
 * below three that agree and one far above them both go). Points without a finite λ̂ are never
 * far: they are not drawn at all.
 */
export function farPoints(points: readonly Pick<ComparisonPoint, 'mean' | 'halfWidth' | 'reference'>[]): Set<number> {
  const usable = points
    .map((p, index) => ({ index, mean: p.mean, half: Number.isFinite(p.halfWidth) && p.halfWidth > 0 ? p.halfWidth : 0, reference: p.reference === true }))
    .filter((p) => Number.isFinite(p.mean))
    .sort((a, b) => a.mean - b.mean || a.index - b.index);
  const k = usable.length;
  let best: { first: number; last: number; width: number } | undefined;
  for (let first = 0; first < k; first++) {
    for (let last = first + 1; last < k; last++) {
      const size = last - first + 1;
      if (size === k) continue;
      const main = usable.slice(first, last + 1);
      if (2 * size < k || (2 * size === k && !main.some((p) => p.reference))) continue;
      const low = Math.min(...main.map((p) => p.mean - p.half));
      const high = Math.max(...main.map((p) => p.mean + p.half));
      const width = Math.max(high - low, FAR.minRelativeSpan * Math.max(...main.map((p) => Math.abs(p.mean))));
      // Points that coincide, with no intervals, are one dot at any scale: nothing to keep readable.
      if (!(width > 0)) continue;
      const others = [...usable.slice(0, first), ...usable.slice(last + 1)];
      if (!others.every((p) => Math.max(low - (p.mean + p.half), p.mean - p.half - high) > FAR.factor * width)) continue;
      if (!best || width < best.width || (width === best.width && size > best.last - best.first + 1)) best = { first, last, width };
    }
  }
  if (!best) return new Set();
  return new Set([...usable.slice(0, best.first), ...usable.slice(best.last + 1)].map((p) => p.index));
}

const DOT_RADIUS = 4;
const WHISKER = 5;
const MIN_GROUP_WIDTH = 120;
/** Between the panels: room for the far panel's tick labels and its turned axis label. */
const PANEL_GAP = 72;
/** Above the panels, under the title: room for the far panel's heading. */
const HEADING = 18;
/** Size of the arrow that marks, in the main panel, where a far run went. */
const ARROW = 6;
/** The true λ's dashed line: dark grey, apart from every series colour. */
const TRUTH_COLOUR = '#444444';

type Group = ComparisonPlotOptions['groups'][number];

/** A linear scale over the points' intervals, for a frame. */
function scaleOf(points: ComparisonPoint[], frame: Frame, also: number[] = []): Scale {
  const finite = (v: number) => (Number.isFinite(v) ? v : NaN);
  const lows = points.map((p) => finite(p.mean - (Number.isFinite(p.halfWidth) ? p.halfWidth : 0)));
  const highs = points.map((p) => finite(p.mean + (Number.isFinite(p.halfWidth) ? p.halfWidth : 0)));
  return linearScale(extent([lows, highs, also.map(finite)]), [frame.top + frame.height, frame.top]);
}

/** The target's true λ: a dashed line across its column, under its points. */
function truthMark(truth: number, left: number, width: number, y: Scale): string {
  const cy = y.map(truth);
  if (!Number.isFinite(cy)) return '';
  return `<g class="truth"><title>${escapeXml(`true λ = ${label(truth, 4)}`)}</title><line x1="${num(left + 4)}" y1="${num(cy)}" x2="${num(left + width - 4)}" y2="${num(cy)}" stroke="${TRUTH_COLOUR}" stroke-width="1.5" stroke-dasharray="6 4"/></g>`;
}

/** One point: its interval with whiskers and its dot, with the hover text; nothing when its λ̂ has no place on the axis. */
function pointMark(p: ComparisonPoint, x: number, y: Scale, c: string): string {
  const cy = y.map(p.mean);
  if (!Number.isFinite(cy)) return '';
  const mark: string[] = [];
  if (Number.isFinite(p.halfWidth) && p.halfWidth > 0) {
    const [top, low] = [y.map(p.mean + p.halfWidth), y.map(p.mean - p.halfWidth)];
    mark.push(`<line x1="${num(x)}" y1="${num(top)}" x2="${num(x)}" y2="${num(low)}" stroke="${c}" stroke-width="1.5"/>`);
    for (const end of [top, low]) mark.push(`<line x1="${num(x - WHISKER)}" y1="${num(end)}" x2="${num(x + WHISKER)}" y2="${num(end)}" stroke="${c}" stroke-width="1.5"/>`);
  }
  mark.push(`<circle cx="${num(x)}" cy="${num(cy)}" r="${DOT_RADIUS}" fill="${c}"/>`);
  return `<g class="point" data-series="${escapeXml(p.series)}"><title>${escapeXml(`${p.tooltip}: ${label(p.mean, 4)} ± ${label(p.halfWidth, 2)}`)}</title>${mark.join('')}</g>`;
}

/**
 * A panel: its frame, left axis, a column per group with a slot per series in `slots`, and the
 * groups' labels under it. Colours follow `colours` (the legend's order) whatever the slots.
 */
function panel(name: string, frame: Frame, groups: Group[], slots: string[], colours: string[], y: Scale, yLabel: string, labelX: number, extra: (g: number, x: (series: string) => number) => string = () => ''): string {
  const groupWidth = frame.width / Math.max(1, groups.length);
  const slot = groupWidth / (slots.length + 1);
  const bottom = frame.top + frame.height;
  const parts: string[] = [
    `<rect class="frame" x="${num(frame.left)}" y="${num(frame.top)}" width="${num(frame.width)}" height="${num(frame.height)}" fill="none"/>`,
    yAxis(frame, y, yLabel, labelX),
    `<line x1="${num(frame.left)}" y1="${num(bottom)}" x2="${num(frame.left + frame.width)}" y2="${num(bottom)}" stroke="#333333"/>`,
  ];
  groups.forEach((group, g) => {
    const left = frame.left + g * groupWidth;
    const x = (series: string) => left + slot * (slots.indexOf(series) + 1);
    if (g > 0) parts.push(`<line x1="${num(left)}" y1="${num(frame.top)}" x2="${num(left)}" y2="${num(bottom)}" stroke="#e5e5e5"/>`);
    parts.push(text(left + groupWidth / 2, bottom + 18, group.label, 'class="tick" text-anchor="middle"'));
    if (group.truth !== undefined) parts.push(truthMark(group.truth, left, groupWidth, y));
    for (const p of group.points) parts.push(pointMark(p, x(p.series), y, colour(colours.indexOf(p.series))));
    parts.push(extra(g, x));
  });
  parts.push(text(frame.left + frame.width / 2, bottom + 42, 'target', 'class="axis-label" text-anchor="middle" font-size="12"'));
  return `<g class="panel" data-panel="${name}">${parts.join('')}</g>`;
}

export function comparisonPlot(opts: ComparisonPlotOptions): string {
  const far = opts.groups.map((g) => farPoints(g.points));
  const near = opts.groups.map((g, i) => ({ label: g.label, points: g.points.filter((_, j) => !far[i].has(j)), truth: g.truth }));
  const away = opts.groups.map((g, i) => ({ label: g.label, points: g.points.filter((_, j) => far[i].has(j)) }));
  const awayGroups = away.filter((g) => g.points.length > 0);
  const split = awayGroups.length > 0;
  const top = FRAME.top + (split ? HEADING : 0);
  // Wide enough for a target id under each group: a long grid gets a wider plot, not overlapping labels.
  const main: Frame = { ...FRAME, top, width: Math.max(FRAME.width, opts.groups.length * MIN_GROUP_WIDTH) };
  const truths = opts.groups.flatMap((g) => (g.truth === undefined ? [] : [g.truth]));
  const yMain = scaleOf(near.flatMap((g) => g.points), main, truths);

  // Where each far run went: an arrow at the edge of the main panel, in its slot, pointing its way.
  const arrows = (g: number, x: (series: string) => number) => {
    const nearMeans = near[g].points.map((p) => p.mean).filter(Number.isFinite);
    return away[g].points
      .map((p) => {
        const up = p.mean > Math.max(...nearMeans);
        const [tip, base] = up ? [main.top, main.top + ARROW * 1.5] : [main.top + main.height, main.top + main.height - ARROW * 1.5];
        const cx = x(p.series);
        const c = colour(opts.series.indexOf(p.series));
        const hover = `${p.tooltip}: ${label(p.mean, 4)} ± ${label(p.halfWidth, 2)}, far from the others: in the panel on the right`;
        return `<g class="far-mark" data-series="${escapeXml(p.series)}"><title>${escapeXml(hover)}</title><polygon points="${num(cx - ARROW)},${num(base)} ${num(cx + ARROW)},${num(base)} ${num(cx)},${num(tip)}" fill="${c}"/></g>`;
      })
      .join('');
  };
  const parts = [panel('main', main, near, opts.series, opts.series, yMain, opts.yLabel, 16, arrows)];
  let right = main.left + main.width;
  if (split) {
    const farSeries = opts.series.filter((s) => awayGroups.some((g) => g.points.some((p) => p.series === s)));
    const side: Frame = { left: right + PANEL_GAP, top, width: awayGroups.length * MIN_GROUP_WIDTH, height: FRAME.height };
    const ySide = scaleOf(awayGroups.flatMap((g) => g.points), side);
    parts.push(panel('far', side, awayGroups, farSeries, opts.series, ySide, opts.yLabel, side.left - PANEL_GAP + 16));
    parts.push(text(side.left + side.width / 2, top - 8, `far from the others: ${farSeries.join(', ')}`, 'class="panel-heading" text-anchor="middle" font-size="12"'));
    right = side.left + side.width;
  }
  const whole: Frame = { left: main.left, top, width: right - main.left, height: FRAME.height };
  const key = legend(
    whole,
    [
      ...opts.series.map((name, s) => ({ label: name, swatch: { colour: colour(s), kind: 'line' as const } })),
      ...(truths.length ? [{ label: 'true λ', swatch: { colour: TRUTH_COLOUR, kind: 'dashed' as const } }] : []),
    ],
  );
  return svgDocument(documentSize(whole, key.width), opts.title, parts.join('') + key.svg);
}
