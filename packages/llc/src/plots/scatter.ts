/**
 * The fit plot of a report: a trained student's outputs against its teacher's on the same inputs,
 * with the identity line. Points on the line are a student that learnt the teacher; a cloud off it
 * is an undertrained or mis-specified target, whose λ̂ measures something else.
 */
import { colour, dashedLine, documentSize, extent, FRAME, legend, linearScale, num, svgDocument, xAxis, yAxis } from './svg';

export interface ScatterSet {
  label: string;
  x: ArrayLike<number>;
  y: ArrayLike<number>;
}

export interface ScatterPlotOptions {
  sets: ScatterSet[];
  xLabel: string;
  yLabel: string;
  title: string;
}

export function scatterPlot(opts: ScatterPlotOptions): string {
  const frame = FRAME;
  // One extent for both axes, so the identity line is the diagonal.
  const both = extent(opts.sets.flatMap((s) => [s.x, s.y]));
  const x = linearScale(both, [frame.left, frame.left + frame.width]);
  const y = linearScale(both, [frame.top + frame.height, frame.top]);
  const [lo, hi] = [x.ticks[0]?.value ?? 0, x.ticks[x.ticks.length - 1]?.value ?? 1];
  const identity = dashedLine(x.map(lo), y.map(lo), x.map(hi), y.map(hi), '#888888');
  const points = opts.sets.map((s, k) => {
    const dots: string[] = [];
    for (let i = 0; i < s.x.length; i++) {
      const [px, py] = [x.map(s.x[i]), y.map(s.y[i])];
      if (Number.isFinite(px) && Number.isFinite(py)) dots.push(`<circle cx="${num(px)}" cy="${num(py)}" r="2.2"/>`);
    }
    return `<g class="set" fill="${colour(k)}" fill-opacity="0.6">${dots.join('')}</g>`;
  });
  const key = legend(frame, [
    ...opts.sets.map((s, k) => ({ label: `${s.label} (${s.x.length} points)`, swatch: { colour: colour(k), kind: 'area' as const } })),
    { label: 'student = teacher', swatch: { colour: '#888888', kind: 'dashed' as const } },
  ]);
  return svgDocument(documentSize(frame, key.width), opts.title, yAxis(frame, y, opts.yLabel) + xAxis(frame, x, opts.xLabel) + identity + points.join('') + key.svg);
}
