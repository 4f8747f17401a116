/**
 * A bar chart with the values written on the bars: a target's losses (train and test, against the
 * noisy labels and against the teacher) side by side in a report.
 */
import { colour, documentSize, extent, FRAME, label, linearScale, num, svgDocument, text, yAxis } from './svg';

export interface BarPlotOptions {
  bars: { label: string; value: number | null }[];
  yLabel: string;
  title: string;
}

export function barPlot(opts: BarPlotOptions): string {
  const frame = FRAME;
  const values = opts.bars.map((b) => b.value ?? NaN);
  const [, hi] = extent([values]) ?? [0, 1];
  const y = linearScale([0, Math.max(hi, 0)], [frame.top + frame.height, frame.top]);
  const slot = frame.width / Math.max(1, opts.bars.length);
  const bottom = frame.top + frame.height;
  const parts = opts.bars.map((b, i) => {
    const centre = frame.left + slot * (i + 0.5);
    const name = text(centre, bottom + 18, b.label, 'class="tick" text-anchor="middle"');
    const top = y.map(b.value ?? NaN);
    if (!Number.isFinite(top)) return name + text(centre, bottom - 6, 'n/a', 'text-anchor="middle"');
    const width = slot * 0.6;
    return (
      `<rect x="${num(centre - width / 2)}" y="${num(top)}" width="${num(width)}" height="${num(bottom - top)}" fill="${colour(i)}"/>` +
      text(centre, top - 5, label(b.value!, 3), 'text-anchor="middle"') +
      name
    );
  });
  const axis = `<line x1="${num(frame.left)}" y1="${num(bottom)}" x2="${num(frame.left + frame.width)}" y2="${num(bottom)}" stroke="#333333"/>`;
  return svgDocument(documentSize(frame, 0), opts.title, yAxis(frame, y, opts.yLabel) + axis + parts.join(''));
}
