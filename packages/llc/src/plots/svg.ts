/**
 * The shared pieces of the run plots: number formatting, text escaping, the palette, scales with
 * readable ticks, axes, series, legends and the document shell.
 *
 * Every plot is a standalone SVG document that a report embeds and a headless browser checks, so
 * the output is well-formed XML with nothing external (no fonts, scripts or links), and it is
 * deterministic: the same run gives byte-identical files, which keeps artifacts diffable and
 * cacheable. A diverged run still has to plot, so no non-finite number may reach an attribute: the
 * helpers here that place data (axes, lines, bands, levels) leave out whatever maps to a
 * non-finite pixel, and the plots pass data through them.
 */

/** Okabe & Ito (2008), distinguishable under the common colour-vision deficiencies; yellow last, as it is faint on white. */
const PALETTE = ['#0072B2', '#E69F00', '#009E73', '#D55E00', '#CC79A7', '#56B4E9', '#000000', '#F0E442'];

/** How many series can have colours of their own; more, and colours repeat. */
export const DISTINCT_COLOURS = PALETTE.length;

export function colour(index: number): string {
  return PALETTE[index % PALETTE.length];
}

/** Where the data go inside the document, in pixels. */
export interface Frame {
  left: number;
  top: number;
  width: number;
  height: number;
}

/** The plot area every single-panel plot uses; the margins hold tick labels, axis labels and the title. */
export const FRAME: Frame = { left: 72, top: 40, width: 520, height: 300 };
const MARGIN_RIGHT = 24;
const MARGIN_BOTTOM = 56;

export function documentSize(frame: Frame, legendWidth: number): { width: number; height: number } {
  return { width: frame.left + frame.width + MARGIN_RIGHT + legendWidth, height: frame.top + frame.height + MARGIN_BOTTOM };
}

function trimZeros(fixed: string): string {
  return fixed.includes('.') ? fixed.replace(/\.?0+$/, '') : fixed;
}

/** Hundredths of a pixel are finer than any screen and keep long series short. */
export function num(value: number): string {
  const s = trimZeros(value.toFixed(2));
  return s === '-0' ? '0' : s;
}

/** A value shown to people, to at most a fixed number of significant digits; undefined values read "n/a". */
export function label(value: number, digits = 3): string {
  if (!Number.isFinite(value)) return 'n/a';
  if (value === 0) return '0';
  const magnitude = Math.floor(Math.log10(Math.abs(value)));
  if (magnitude >= 6 || magnitude <= -4) return value.toExponential(digits - 1).replace(/\.?0+e/, 'e');
  return trimZeros(value.toFixed(Math.max(0, digits - 1 - magnitude)));
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };

/** Escapes text for element content and attribute values, dropping the control characters XML 1.0 forbids. */
export function escapeXml(text: string): string {
  return text.replace(/[\u0000-\u0008\u000B\u000C\u000E-\u001F]/g, '').replace(/[&<>"']/g, (c) => ENTITIES[c]);
}

export function text(x: number, y: number, content: string, attributes = ''): string {
  return `<text x="${num(x)}" y="${num(y)}"${attributes ? ' ' + attributes : ''}>${escapeXml(content)}</text>`;
}

export interface Tick {
  value: number;
  label: string;
}

export interface Scale {
  /** Data value to pixel; non-finite where the value has no place on the axis (NaN, or ≤ 0 on a log axis). */
  map(value: number): number;
  ticks: Tick[];
}

/** Smallest and largest finite values over the arrays (positive ones only for a log axis); undefined if there are none. */
export function extent(arrays: ArrayLike<number>[], positiveOnly = false): [number, number] | undefined {
  let lo = Infinity;
  let hi = -Infinity;
  for (const values of arrays) {
    for (let i = 0; i < values.length; i++) {
      const v = values[i];
      if (!Number.isFinite(v) || (positiveOnly && v <= 0)) continue;
      if (v < lo) lo = v;
      if (v > hi) hi = v;
    }
  }
  return lo <= hi ? [lo, hi] : undefined;
}

/** 1, 2 or 5 times a power of ten: tick steps people read at a glance (Heckbert, Graphics Gems 1990). */
function niceStep(span: number, count: number): number {
  const raw = span / count;
  const power = 10 ** Math.floor(Math.log10(raw));
  const fraction = raw / power;
  return (fraction < 1.5 ? 1 : fraction < 3 ? 2 : fraction < 7 ? 5 : 10) * power;
}

function linearTickLabel(value: number, step: number): string {
  if (value === 0) return '0';
  const stepPower = Math.floor(Math.log10(step));
  const valuePower = Math.floor(Math.log10(Math.abs(value)));
  if (valuePower >= 6 || stepPower <= -5) return value.toExponential(Math.max(0, valuePower - stepPower)).replace(/\.?0+e/, 'e');
  return value.toFixed(Math.max(0, -stepPower));
}

const TICK_COUNT = 5;

export interface LinearScaleOptions {
  /** Keeps ticks on whole numbers, for counts such as draw indices. */
  minStep?: number;
  /** Spans exactly the extent instead of widening it to whole tick steps, for counts that should fill the frame. */
  exact?: boolean;
}

/** A linear axis over the data's extent, by default widened to whole tick steps so that its ends are labelled. */
export function linearScale(dataExtent: [number, number] | undefined, pixels: [number, number], options: LinearScaleOptions = {}): Scale {
  let [lo, hi] = dataExtent ?? [0, 1];
  if (lo === hi) {
    const pad = Math.abs(lo) * 0.1 || 1;
    lo -= pad;
    hi += pad;
  }
  const step = Math.max(niceStep(hi - lo, TICK_COUNT), options.minStep ?? 0);
  const ticks: Tick[] = [];
  if (step > 0 && Number.isFinite(step)) {
    const first = options.exact ? Math.ceil(lo / step) : Math.floor(lo / step);
    const last = options.exact ? Math.floor(hi / step) : Math.ceil(hi / step);
    if (!options.exact) {
      lo = first * step;
      hi = last * step;
    }
    for (let k = first; k <= last; k++) ticks.push({ value: k * step, label: linearTickLabel(k * step, step) });
  }
  const [p0, p1] = pixels;
  return { map: (v) => p0 + ((v - lo) / (hi - lo)) * (p1 - p0), ticks };
}

const MAX_LOG_TICKS = 8;

function powerOfTenLabel(exponent: number): string {
  return exponent >= -3 && exponent <= 4 ? (10 ** exponent).toFixed(Math.max(0, -exponent)) : `1e${exponent}`;
}

/** A log₁₀ axis over whole decades, with ticks only at powers of ten: every decade, or every k-th over more than eight. */
export function logScale(positiveExtent: [number, number] | undefined, pixels: [number, number]): Scale {
  const [lo, hi] = positiveExtent ?? [1, 10];
  const first = Math.floor(Math.log10(lo));
  const last = Math.max(Math.ceil(Math.log10(hi)), first + 1);
  const stride = Math.ceil((last - first) / MAX_LOG_TICKS);
  const ticks: Tick[] = [];
  for (let k = first; k <= last; k += stride) ticks.push({ value: 10 ** k, label: powerOfTenLabel(k) });
  const [p0, p1] = pixels;
  return { map: (v) => p0 + ((Math.log10(v) - first) / (last - first)) * (p1 - p0), ticks };
}

const TICK_LENGTH = 5;
const AXIS_STYLE = 'stroke="#333333" stroke-width="1"';
const GRID_STYLE = 'stroke="#e5e5e5" stroke-width="1"';

export function xAxis(frame: Frame, scale: Scale, axisLabel: string): string {
  const bottom = frame.top + frame.height;
  const parts = [`<line x1="${num(frame.left)}" y1="${num(bottom)}" x2="${num(frame.left + frame.width)}" y2="${num(bottom)}" ${AXIS_STYLE}/>`];
  for (const tick of scale.ticks) {
    const x = scale.map(tick.value);
    if (!Number.isFinite(x)) continue;
    parts.push(`<line x1="${num(x)}" y1="${num(bottom)}" x2="${num(x)}" y2="${num(bottom + TICK_LENGTH)}" ${AXIS_STYLE}/>`);
    parts.push(text(x, bottom + TICK_LENGTH + 12, tick.label, 'class="tick" text-anchor="middle"'));
  }
  parts.push(text(frame.left + frame.width / 2, bottom + 42, axisLabel, 'class="axis-label" text-anchor="middle" font-size="12"'));
  return `<g class="x-axis">${parts.join('')}</g>`;
}

/** The left axis, with faint horizontal grid lines across the frame at its ticks; its label, turned, at `labelX` (the document's left margin unless a panel beside another says otherwise). */
export function yAxis(frame: Frame, scale: Scale, axisLabel: string, labelX = 16): string {
  const right = frame.left + frame.width;
  const parts = [`<line x1="${num(frame.left)}" y1="${num(frame.top)}" x2="${num(frame.left)}" y2="${num(frame.top + frame.height)}" ${AXIS_STYLE}/>`];
  for (const tick of scale.ticks) {
    const y = scale.map(tick.value);
    if (!Number.isFinite(y)) continue;
    parts.push(`<line x1="${num(frame.left + 1)}" y1="${num(y)}" x2="${num(right)}" y2="${num(y)}" ${GRID_STYLE}/>`);
    parts.push(`<line x1="${num(frame.left - TICK_LENGTH)}" y1="${num(y)}" x2="${num(frame.left)}" y2="${num(y)}" ${AXIS_STYLE}/>`);
    parts.push(text(frame.left - TICK_LENGTH - 3, y + 4, tick.label, 'class="tick" text-anchor="end"'));
  }
  const middle = frame.top + frame.height / 2;
  parts.push(text(labelX, middle, axisLabel, `class="axis-label" text-anchor="middle" font-size="12" transform="rotate(-90 ${num(labelX)} ${num(middle)})"`));
  return `<g class="y-axis">${parts.join('')}</g>`;
}

/**
 * Indices of the points to keep from a run of finite points so that the line looks the same:
 * within each pixel column, the first, last, highest and lowest (the M4 rule of Jugel et al.,
 * VLDB 2014). Long traces would otherwise make files of megabytes that draw no differently.
 */
function visibleIndices(xs: ArrayLike<number>, ys: ArrayLike<number>, start: number, end: number): number[] {
  const kept: number[] = [];
  let i = start;
  while (i < end) {
    const column = Math.floor(xs[i]);
    let j = i;
    let lowest = i;
    let highest = i;
    while (j + 1 < end && Math.floor(xs[j + 1]) === column) {
      j++;
      if (ys[j] < ys[lowest]) lowest = j;
      if (ys[j] > ys[highest]) highest = j;
    }
    for (const k of [...new Set([i, lowest, highest, j])].sort((a, b) => a - b)) kept.push(k);
    i = j + 1;
  }
  return kept;
}

/** Maximal runs [start, end) of indices where every array holds a finite value. */
function finiteRuns(arrays: ArrayLike<number>[], length: number): [number, number][] {
  const runs: [number, number][] = [];
  let start = -1;
  for (let i = 0; i <= length; i++) {
    const finite = i < length && arrays.every((a) => Number.isFinite(a[i]));
    if (finite && start < 0) start = i;
    if (!finite && start >= 0) {
      runs.push([start, i]);
      start = -1;
    }
  }
  return runs;
}

function pointList(xs: ArrayLike<number>, ys: ArrayLike<number>, indices: number[]): string {
  return indices.map((i) => `${num(xs[i])},${num(ys[i])}`).join(' ');
}

/**
 * A series in pixels, broken wherever a point is missing; a lone point between gaps is drawn as a
 * dot so that a one-draw run or an isolated finite draw still shows.
 */
export function line(xs: ArrayLike<number>, ys: ArrayLike<number>, stroke: string, attributes = ''): string {
  const extra = attributes ? ' ' + attributes : '';
  return finiteRuns([xs, ys], xs.length)
    .map(([start, end]) =>
      end - start === 1
        ? `<circle cx="${num(xs[start])}" cy="${num(ys[start])}" r="1.5" fill="${stroke}"/>`
        : `<polyline points="${pointList(xs, ys, visibleIndices(xs, ys, start, end))}" fill="none" stroke="${stroke}"${extra}/>`,
    )
    .join('');
}

/** The area between two series in pixels, as one polygon per run where both are present. */
export function band(xs: ArrayLike<number>, lower: ArrayLike<number>, upper: ArrayLike<number>, fill: string, opacity: number): string {
  return finiteRuns([xs, lower, upper], xs.length)
    .filter(([start, end]) => end - start > 1)
    .map(([start, end]) => {
      const top = pointList(xs, upper, visibleIndices(xs, upper, start, end));
      const bottom = pointList(xs, lower, visibleIndices(xs, lower, start, end).reverse());
      return `<polygon points="${top} ${bottom}" fill="${fill}" fill-opacity="${opacity}" stroke="none"/>`;
    })
    .join('');
}

/** A dashed segment between two points in pixels, if both have a place on the axes. */
export function dashedLine(x1: number, y1: number, x2: number, y2: number, stroke: string, attributes = ''): string {
  if (![x1, y1, x2, y2].every(Number.isFinite)) return '';
  const extra = attributes ? ' ' + attributes : '';
  return `<line x1="${num(x1)}" y1="${num(y1)}" x2="${num(x2)}" y2="${num(y2)}" stroke="${stroke}" stroke-width="1.5" stroke-dasharray="6 4"${extra}/>`;
}

/** A horizontal dashed line across the frame, if the value has a place on the axis. */
export function dashedLevel(frame: Frame, y: number, stroke: string, attributes = ''): string {
  return dashedLine(frame.left, y, frame.left + frame.width, y, stroke, attributes);
}

export interface LegendEntry {
  label: string;
  /** Omitted for a line of text only. */
  swatch?: { colour: string; kind: 'line' | 'dashed' | 'area' };
}

const LEGEND_GAP = 16;
const LEGEND_ROW = 16;
const SWATCH_WIDTH = 20;
/** Text width is not measurable without fonts; this average glyph width at 11px errs wide. */
const CHARACTER_WIDTH = 6.5;

/** A legend to the right of the frame, in as many columns as its rows need; returns its width for sizing the document. */
export function legend(frame: Frame, entries: LegendEntry[]): { svg: string; width: number } {
  if (entries.length === 0) return { svg: '', width: 0 };
  const rowsPerColumn = Math.max(1, Math.floor(frame.height / LEGEND_ROW));
  const columnWidth = SWATCH_WIDTH + 6 + Math.max(...entries.map((e) => e.label.length)) * CHARACTER_WIDTH + LEGEND_GAP;
  const left = frame.left + frame.width + MARGIN_RIGHT;
  const parts = entries.map((entry, i) => {
    const x = left + Math.floor(i / rowsPerColumn) * columnWidth;
    const y = frame.top + (i % rowsPerColumn) * LEGEND_ROW + 8;
    const swatch = entry.swatch;
    const textX = swatch ? x + SWATCH_WIDTH + 6 : x;
    let mark = '';
    if (swatch?.kind === 'area') mark = `<rect x="${num(x)}" y="${num(y - 5)}" width="${SWATCH_WIDTH}" height="10" fill="${swatch.colour}" fill-opacity="0.45" stroke="${swatch.colour}"/>`;
    else if (swatch) {
      const dash = swatch.kind === 'dashed' ? ' stroke-dasharray="6 4"' : '';
      mark = `<line x1="${num(x)}" y1="${num(y)}" x2="${num(x + SWATCH_WIDTH)}" y2="${num(y)}" stroke="${swatch.colour}" stroke-width="2"${dash}/>`;
    }
    return mark + text(textX, y + 4, entry.label);
  });
  const columns = Math.ceil(entries.length / rowsPerColumn);
  return { svg: `<g class="legend">${parts.join('')}</g>`, width: columns * columnWidth };
}

/** The standalone document: its <title> names it for screen readers and browser tabs, and a white ground keeps it legible on dark pages. */
export function svgDocument(size: { width: number; height: number }, title: string, body: string): string {
  const width = Math.ceil(size.width);
  const height = Math.ceil(size.height);
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" role="img" font-family="sans-serif" font-size="11">` +
    `<title>${escapeXml(title)}</title>` +
    `<rect x="0" y="0" width="${width}" height="${height}" fill="#ffffff"/>` +
    text(width / 2, 22, title, 'class="title" text-anchor="middle" font-size="14"') +
    body +
    '</svg>\n'
  );
}

/** Traces are chains × draws, row-major by chain; a mismatch is a bug in the caller. */
export function checkShape(name: string, values: ArrayLike<number>, chains: number, draws: number): void {
  if (!Number.isInteger(chains) || !Number.isInteger(draws) || chains < 0 || draws < 0) throw new RangeError(`${name}: chains and draws must be non-negative integers, got ${chains} and ${draws}`);
  if (values.length !== chains * draws) throw new RangeError(`${name}: expected ${chains} chains × ${draws} draws = ${chains * draws} values, got ${values.length}`);
}
