/**
 * The run plots: the numbers behind them (running-mean band, rank histograms, E-BFMI) against
 * direct computations and hand-made cases, and every document checked as well-formed,
 * self-contained, deterministic SVG, including for diverged (NaN/Infinity) and degenerate runs.
 */
import { describe, expect, it } from 'vitest';
import { barPlot, comparisonPlot, ebfmi, energyPlot, FAR, farPoints, overlayPlot, type OverlaySeries, rankHistograms, rankPlot, runningMeanBand, scatterPlot, tracePlot } from '../packages/llc/src/plots';
import { fillNormal, fillUniform, keyFromSeed } from '../packages/llc/src/rng';

interface Element {
  name: string;
  attributes: Record<string, string>;
  children: Element[];
  text: string;
}

/**
 * A strict little XML reader, enough for what the plots write: elements, quoted attributes, text
 * and the five predefined entities. It throws on anything unbalanced, unquoted, duplicated or
 * stray, which is what a browser's XML parser would reject.
 */
function parseXml(source: string): Element {
  const token = /<\/([A-Za-z][\w:-]*)\s*>|<([A-Za-z][\w:-]*)((?:\s+[A-Za-z][\w:-]*="[^"<]*")*)\s*(\/?)>|([^<]+)|(<)/gy;
  const root: Element = { name: '#document', attributes: {}, children: [], text: '' };
  const stack = [root];
  const entities: Record<string, string> = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'" };
  const decode = (s: string) => {
    const stray = s.replace(/&(amp|lt|gt|quot|apos);/g, '');
    if (stray.includes('&') || stray.includes('>')) throw new Error(`unescaped character in ${JSON.stringify(s.slice(0, 60))}`);
    return s.replace(/&(amp|lt|gt|quot|apos);/g, (_, name: string) => entities[name]);
  };
  for (let m = token.exec(source); m; m = token.exec(source)) {
    const [, closing, opening, attributeText, selfClosing, content, stray] = m;
    if (stray) throw new Error(`malformed tag at ${m.index}: ${source.slice(m.index, m.index + 60)}`);
    const top = stack[stack.length - 1];
    if (content !== undefined) {
      if (top === root && content.trim() !== '') throw new Error('text outside the root element');
      top.text += decode(content);
    } else if (closing) {
      if (closing !== top.name) throw new Error(`</${closing}> closes <${top.name}>`);
      stack.pop();
    } else {
      const element: Element = { name: opening, attributes: {}, children: [], text: '' };
      for (const [, name, value] of attributeText.matchAll(/([A-Za-z][\w:-]*)="([^"]*)"/g)) {
        if (name in element.attributes) throw new Error(`duplicate attribute ${name} on <${opening}>`);
        element.attributes[name] = decode(value);
      }
      top.children.push(element);
      if (!selfClosing) stack.push(element);
    }
  }
  if (token.lastIndex !== 0 && token.lastIndex !== source.length) throw new Error(`unparsed input at ${token.lastIndex}`);
  if (stack.length !== 1) throw new Error(`<${stack[stack.length - 1].name}> is never closed`);
  if (root.children.length !== 1) throw new Error(`expected one root element, got ${root.children.length}`);
  return root.children[0];
}

function* walk(element: Element): Generator<Element> {
  yield element;
  for (const child of element.children) yield* walk(child);
}

function find(root: Element, predicate: (e: Element) => boolean): Element[] {
  return [...walk(root)].filter(predicate);
}

const withClass = (root: Element, name: string) => find(root, (e) => (e.attributes.class ?? '').split(' ').includes(name));

/** Everything every plot must satisfy; returns the parsed document for plot-specific checks. */
function checkDocument(svg: string, title: string): Element {
  const root = parseXml(svg);
  expect(root.name).toBe('svg');
  expect(root.attributes.xmlns).toBe('http://www.w3.org/2000/svg');
  const width = Number(root.attributes.width);
  const height = Number(root.attributes.height);
  expect(width).toBeGreaterThan(0);
  expect(height).toBeGreaterThan(0);
  expect(root.attributes.viewBox).toBe(`0 0 ${width} ${height}`);
  expect(root.children[0].name).toBe('title');
  expect(root.children[0].text).toBe(title);
  expect(svg).not.toMatch(/NaN|Infinity|undefined/);
  // Self-contained: nothing to fetch, nothing to run.
  expect(svg).not.toMatch(/<script|<image|<use|<link|<style|<foreignObject|href=|url\(|@import/i);
  for (const e of walk(root)) {
    for (const [name, value] of Object.entries(e.attributes)) {
      if (['x', 'y', 'x1', 'y1', 'x2', 'y2', 'cx', 'cy', 'r', 'width', 'height'].includes(name)) expect(Number.isFinite(Number(value)), `${e.name}.${name}="${value}"`).toBe(true);
      if (name === 'points') for (const n of value.split(/[ ,]/)) expect(Number.isFinite(Number(n)), `points ${n}`).toBe(true);
    }
  }
  return root;
}

function normals(seed: number, n: number, scale = 1, shift = 0): Float64Array {
  const z = new Float64Array(n);
  fillNormal(keyFromSeed(seed), z);
  return z.map((v) => shift + scale * v);
}

/** A trace whose chains wander, as λ̂ traces do, so the plots have something to draw. */
function randomWalks(seed: number, chains: number, draws: number): Float64Array {
  const steps = normals(seed, chains * draws);
  const out = new Float64Array(chains * draws);
  for (let c = 0; c < chains; c++) {
    let level = 5 + c;
    for (let t = 0; t < draws; t++) out[c * draws + t] = level += 0.1 * steps[c * draws + t];
  }
  return out;
}

function cumulativeFge(draws: number): Float64Array {
  return Float64Array.from({ length: draws }, (_, t) => 100 * (t + 1));
}

/** One run's running mean, as the convergence overlay draws it. */
function oneRun(llc: Float64Array, chains: number, draws: number, x: Float64Array): OverlaySeries {
  return { label: 'run', llc, chains, draws, x, colourIndex: 0, estimate: { mean: 5.5, halfWidth: 0.1 }, final: false };
}

/** Every plot on one input, so that the cross-cutting properties are checked for all of them. */
function allPlots(llc: Float64Array, chains: number, draws: number, x = cumulativeFge(draws)): Record<string, string> {
  return {
    trace: tracePlot({ llc, chains, draws, title: 'λ̂ trace' }),
    runningMean: overlayPlot({ series: [oneRun(llc, chains, draws, x)], xLabel: 'FGE', logX: true, title: 'running mean vs FGE' }),
    rank: rankPlot({ llc, chains, draws, title: 'rank plot' }),
    energy: energyPlot({ energy: llc, chains, draws, title: 'energy' }),
  };
}

/** The plot area of the single-panel plots, in pixels. */
const FRAME_LEFT = 72;
const FRAME_WIDTH = 520;

const TITLES: Record<string, string> = { trace: 'λ̂ trace', runningMean: 'running mean vs FGE', rank: 'rank plot', energy: 'energy' };

describe('runningMeanBand', () => {
  it('matches a direct computation of the running mean and its ±1.96·SEM band', () => {
    const chains = 3;
    const draws = 25;
    const llc = normals(11, chains * draws, 2, 7);
    const { mean, lower, upper, startIndex } = runningMeanBand(llc, chains, draws);
    expect(startIndex).toBe(10);
    for (let t = 0; t < draws; t++) {
      const chainMeans = [0, 1, 2].map((c) => {
        const prefix = Array.from(llc.subarray(c * draws, c * draws + t + 1));
        return prefix.reduce((a, b) => a + b, 0) / prefix.length;
      });
      const m = chainMeans.reduce((a, b) => a + b, 0) / chains;
      expect(mean[t]).toBeCloseTo(m, 12);
      if (t < startIndex) {
        expect(lower[t]).toBeNaN();
        expect(upper[t]).toBeNaN();
        continue;
      }
      const sem = Math.sqrt(chainMeans.reduce((a, b) => a + (b - m) ** 2, 0) / (chains - 1)) / Math.sqrt(chains);
      expect(lower[t]).toBeCloseTo(m - 1.96 * sem, 12);
      expect(upper[t]).toBeCloseTo(m + 1.96 * sem, 12);
    }
    expect(Array.from(mean).every(Number.isFinite)).toBe(true);
  });

  it('starts the band at the last draw of short runs and has none for one chain', () => {
    expect(runningMeanBand(normals(1, 2 * 4), 2, 4).startIndex).toBe(3);
    expect(Number.isFinite(runningMeanBand(normals(1, 2 * 4), 2, 4).upper[3])).toBe(true);
    const single = runningMeanBand(normals(2, 30), 1, 30);
    expect(single.startIndex).toBe(30);
    expect(Array.from(single.upper).every(Number.isNaN)).toBe(true);
    expect(single.mean[29]).toBeCloseTo(normals(2, 30).reduce((a, b) => a + b, 0) / 30, 12);
  });
});

describe('rankHistograms', () => {
  /** A random permutation of 0..n−1 (Fisher–Yates on uniform draws). */
  function permutation(seed: number, n: number): Float64Array {
    const u = new Float64Array(n);
    fillUniform(keyFromSeed(seed), u);
    const out = Float64Array.from({ length: n }, (_, i) => i);
    for (let i = n - 1; i > 0; i--) {
      const j = Math.floor(u[i] * (i + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
    return out;
  }

  it('partitions a permutation exactly: every chain sums to T, every bin to C·T/bins', () => {
    const chains = 4;
    const draws = 50;
    const bins = 10;
    const counts = rankHistograms(permutation(5, chains * draws), chains, draws, bins);
    expect(counts).toHaveLength(chains);
    for (const row of counts) {
      expect(row).toHaveLength(bins);
      expect(row.reduce((a, b) => a + b, 0)).toBe(draws);
    }
    for (let b = 0; b < bins; b++) expect(counts.reduce((sum, row) => sum + row[b], 0)).toBe((chains * draws) / bins);
  });

  it('puts a chain holding the smallest values in the lowest bins', () => {
    const chains = 4;
    const draws = 20;
    // Chain c holds the values c·T .. c·T + T − 1, in descending order so that position gives nothing away.
    const llc = Float64Array.from({ length: chains * draws }, (_, i) => Math.floor(i / draws) * draws + (draws - 1 - (i % draws)));
    const counts = rankHistograms(llc, chains, draws, 8);
    expect(counts[0]).toEqual([10, 10, 0, 0, 0, 0, 0, 0]);
    expect(counts[3]).toEqual([0, 0, 0, 0, 0, 0, 10, 10]);
  });

  it('averages the ranks of ties and leaves NaN draws out', () => {
    // All equal: every draw has the middle rank, so everything lands in the middle bin.
    expect(rankHistograms(new Float64Array(6).fill(1), 2, 3, 3)).toEqual([
      [0, 3, 0],
      [0, 3, 0],
    ]);
    // Five ranked draws, one per bin: −∞ (chain 1), 1, 2 (chain 0), 3, +∞ (chain 1).
    expect(rankHistograms(Float64Array.from([NaN, 1, 2, Infinity, -Infinity, 3]), 2, 3, 5)).toEqual([
      [0, 1, 1, 0, 0],
      [1, 0, 0, 1, 1],
    ]);
  });
});

describe('ebfmi', () => {
  it('matches hand-computed values', () => {
    // Chain 0: E = 0, 2, 0, 2 → Ē = 1, Σ(ΔE)² = 3·4 = 12, Σ(E − Ē)² = 4, E-BFMI = 3.
    // Chain 1: E = 0, 1, 2, 3 → Ē = 1.5, Σ(ΔE)² = 3, Σ(E − Ē)² = 5, E-BFMI = 0.6.
    const values = ebfmi(Float64Array.from([0, 2, 0, 2, 0, 1, 2, 3]), 2, 4);
    expect(values[0]).toBeCloseTo(3, 14);
    expect(values[1]).toBeCloseTo(0.6, 14);
  });

  it('is NaN where undefined: one draw, constant energy, non-finite energy', () => {
    expect(ebfmi(Float64Array.from([4]), 1, 1)[0]).toBeNaN();
    expect(ebfmi(Float64Array.from([2, 2, 2]), 1, 3)[0]).toBeNaN();
    expect(ebfmi(Float64Array.from([1, NaN, 3, 1, 2, 4]), 2, 3)[0]).toBeNaN();
    expect(ebfmi(Float64Array.from([1, NaN, 3, 1, 2, 4]), 2, 3)[1]).toBeGreaterThan(0);
  });
});

describe('plots', () => {
  const chains = 4;
  const draws = 300;
  const llc = randomWalks(21, chains, draws);
  const plots = allPlots(llc, chains, draws);

  it('are well-formed, self-contained and deterministic', () => {
    const again = allPlots(Float64Array.from(llc), chains, draws);
    for (const [name, svg] of Object.entries(plots)) {
      checkDocument(svg, TITLES[name]);
      expect(again[name], name).toBe(svg);
    }
  });

  it('draw one line per chain in the trace plot, with a legend naming each chain', () => {
    const root = parseXml(plots.trace);
    const groups = withClass(root, 'chain');
    expect(groups.map((g) => g.attributes['data-chain'])).toEqual(['0', '1', '2', '3']);
    for (const g of groups) expect(g.children.map((e) => e.name)).toEqual(['polyline']);
    expect(new Set(groups.map((g) => g.children[0].attributes.stroke)).size).toBe(chains);
    const legendText = withClass(root, 'legend')[0].children.filter((e) => e.name === 'text').map((e) => e.text);
    expect(legendText).toEqual(['chain 0', 'chain 1', 'chain 2', 'chain 3']);
  });

  it('thin long traces without losing the extremes of a chain', () => {
    const long = 100_000;
    const walk = randomWalks(22, 1, long);
    const svg = tracePlot({ llc: walk, chains: 1, draws: long, title: 'long' });
    const root = checkDocument(svg, 'long');
    expect(svg.length).toBeLessThan(100_000);
    const points = find(root, (e) => e.name === 'polyline').flatMap((p) => p.attributes.points.split(' ').map((pt) => pt.split(',').map(Number)));
    const ys = points.map(([, y]) => y);
    // The highest and lowest points drawn sit at the draws where the trace peaks and bottoms out.
    const xOfDraw = (t: number) => FRAME_LEFT + (t / (long - 1)) * FRAME_WIDTH;
    const highest = points[ys.indexOf(Math.min(...ys))];
    const lowest = points[ys.indexOf(Math.max(...ys))];
    expect(highest[0]).toBeCloseTo(xOfDraw(walk.indexOf(Math.max(...walk))), 1);
    expect(lowest[0]).toBeCloseTo(xOfDraw(walk.indexOf(Math.min(...walk))), 1);
  });

  it('put log-x ticks at powers of ten and draw the running mean with its band', () => {
    const root = parseXml(plots.runningMean);
    const ticks = withClass(withClass(root, 'x-axis')[0], 'tick').map((e) => Number(e.text));
    expect(ticks.length).toBeGreaterThanOrEqual(2);
    for (const v of ticks) expect(Math.log10(v)).toBe(Math.round(Math.log10(v)));
    // FGE runs from 100 to 30000: decades 10² to 10⁵.
    expect(ticks).toEqual([100, 1000, 10000, 100000]);
    expect(find(root, (e) => e.name === 'polygon')).toHaveLength(1);
    expect(find(root, (e) => e.name === 'polyline')).toHaveLength(1);
  });

  it('skip non-positive x on a log axis', () => {
    const x = cumulativeFge(draws).map((v, t) => (t < 5 ? -v : t < 10 ? 0 : v));
    const svg = overlayPlot({ series: [oneRun(llc, chains, draws, x)], xLabel: 'FGE', logX: true, title: 'log' });
    const root = checkDocument(svg, 'log');
    const points = find(root, (e) => e.name === 'polyline')[0].attributes.points.split(' ');
    expect(Number(points[0].split(',')[0])).toBeGreaterThanOrEqual(FRAME_LEFT);
    for (const v of withClass(withClass(root, 'x-axis')[0], 'tick').map((e) => Number(e.text))) expect(Math.log10(v) % 1).toBe(0);
  });

  it('draw one bar chart per chain in the rank plot, with the uniform level', () => {
    const root = parseXml(plots.rank);
    const groups = withClass(root, 'rank-chain');
    expect(groups).toHaveLength(chains);
    for (const g of groups) {
      expect(withClass(g, 'bar')).toHaveLength(20);
      expect(find(g, (e) => e.name === 'line' && e.attributes['stroke-dasharray'] !== undefined)).toHaveLength(1);
    }
    const bars = withClass(groups[2], 'bar').map((b) => Number(b.attributes.height));
    const counts = rankHistograms(llc, chains, draws, 20)[2];
    // Bar heights are proportional to the counts.
    const ratio = Math.max(...bars) / Math.max(...counts);
    bars.forEach((h, b) => expect(h).toBeCloseTo(counts[b] * ratio, 1));
    expect(withClass(parseXml(rankPlot({ llc, chains, draws, title: 'r', bins: 7 })), 'bar')).toHaveLength(chains * 7);
  });

  it('overlay two histograms in the energy plot and report E-BFMI per chain', () => {
    const root = parseXml(plots.energy);
    expect(withClass(root, 'histogram')).toHaveLength(2);
    const legendText = withClass(root, 'legend')[0].children.filter((e) => e.name === 'text').map((e) => e.text);
    const values = ebfmi(llc, chains, draws);
    for (let c = 0; c < chains; c++) expect(legendText.some((t) => t.startsWith(`chain ${c}: `))).toBe(true);
    // Random walks have tiny steps against their spread: every chain is flagged.
    expect(values.every((v) => v < 0.3)).toBe(true);
    expect(legendText.filter((t) => t.endsWith('(low)'))).toHaveLength(chains);
    // White noise has E-BFMI near 2 (independent draws: E(ΔE)² = 2·Var E).
    expect(ebfmi(normals(3, 20_000), 1, 20_000)[0]).toBeCloseTo(2, 1);
  });

  it('escape titles', () => {
    const title = 'a < b & "c" > d';
    const svg = tracePlot({ llc, chains, draws, title });
    checkDocument(svg, title);
    expect(svg).toContain('a &lt; b &amp; &quot;c&quot; &gt; d');
  });

  it('survive diverged runs: NaN and ±Infinity are skipped', () => {
    const diverged = Float64Array.from(llc);
    for (let t = 150; t < draws; t++) diverged[1 * draws + t] = NaN;
    diverged[2 * draws + 40] = Infinity;
    diverged[3 * draws + 41] = -Infinity;
    diverged[0] = NaN;
    const x = cumulativeFge(draws);
    x[7] = NaN;
    x[8] = Infinity;
    for (const [name, svg] of Object.entries(allPlots(diverged, chains, draws, x))) checkDocument(svg, TITLES[name]);
    const trace = parseXml(tracePlot({ llc: diverged, chains, draws, title: 't' }));
    // The gap splits chain 2's line in two; chain 1 stops at the divergence.
    expect(withClass(trace, 'chain')[2].children.filter((e) => e.name === 'polyline')).toHaveLength(2);
    expect(withClass(trace, 'chain')[1].children).toHaveLength(1);

    const allBad = Float64Array.from([NaN, Infinity, -Infinity, NaN]);
    for (const [name, svg] of Object.entries(allPlots(allBad, 2, 2, Float64Array.from([NaN, NaN])))) checkDocument(svg, TITLES[name]);
  });

  it('survive one chain, one draw and empty runs', () => {
    for (const [c, t] of [
      [1, 1],
      [1, 40],
      [3, 1],
      [2, 2],
      [0, 0],
      [1, 0],
    ]) {
      const data = normals(4, c * t, 1, 3);
      const docs = allPlots(data, c, t);
      for (const [name, svg] of Object.entries(docs)) checkDocument(svg, TITLES[name]);
      if (c === 1 && t === 1) expect(find(parseXml(docs.trace), (e) => e.name === 'circle')).toHaveLength(1);
      expect(withClass(parseXml(docs.trace), 'chain')).toHaveLength(c);
      expect(withClass(parseXml(docs.rank), 'rank-chain')).toHaveLength(c);
    }
    const constant = new Float64Array(10).fill(2);
    for (const [name, svg] of Object.entries(allPlots(constant, 2, 5))) checkDocument(svg, TITLES[name]);
  });

  it('reject traces whose length is not chains × draws', () => {
    expect(() => tracePlot({ llc: new Float64Array(5), chains: 2, draws: 3, title: 't' })).toThrow(RangeError);
    expect(() => runningMeanBand(new Float64Array(5), 2, 3)).toThrow(RangeError);
    expect(() => rankHistograms(new Float64Array(6), 2, 3, 0)).toThrow(RangeError);
  });
});

describe('farPoints: which runs of a target the comparison draws on an axis of their own', () => {
  const at = (mean: number, halfWidth = 0.1, reference = false) => ({ mean, halfWidth, reference });
  const far = (...points: ReturnType<typeof at>[]) => [...farPoints(points)].sort((a, b) => a - b);

  it('splits off one run far from three that agree (VI against HMC, MCLMC and SGLD)', () => {
    expect(far(at(1.51, 0.11, true), at(1.55, 0.14), at(1.61, 0.1), at(8.89, 2.2))).toEqual([3]);
    // The same below the others, and in any order.
    expect(far(at(9.1, 0.2), at(0.05, 0.01), at(9.3, 0.3, true), at(9.2, 0.2))).toEqual([1]);
  });

  it('splits nothing when the runs are close, or spread evenly', () => {
    expect(far(at(1.51, 0.11, true), at(1.55, 0.14), at(1.61, 0.1), at(1.9, 0.2))).toEqual([]);
    expect(far(at(1), at(2), at(4), at(8), at(16))).toEqual([]);
  });

  it('draws the line at FAR.factor times the others’ span, intervals included', () => {
    // Two runs spanning [0.9, 1.1], width 0.2: a third whose interval starts just beyond 3 × 0.2 away is far, just within is not.
    const gap = FAR.factor * 0.2;
    expect(far(at(1, 0.1, true), at(1, 0.1), at(1.1 + gap + 0.01 + 0.1))).toEqual([2]);
    expect(far(at(1, 0.1, true), at(1, 0.1), at(1.1 + gap - 0.01 + 0.1))).toEqual([]);
    // A wide interval reaching back towards the others keeps a run near.
    expect(far(at(1, 0.1, true), at(1, 0.1), at(3, 1.5))).toEqual([]);
  });

  it('splits two groups apart, keeping on the main axis the bigger one, or in a tie the reference run’s', () => {
    // Three agree, two far from them (and from each other): both go.
    expect(far(at(1.5, 0.05, true), at(1.6, 0.05), at(1.55, 0.05), at(9, 0.5), at(12, 0.5))).toEqual([3, 4]);
    // Two and two: the reference's pair stays, whichever side it is on.
    expect(far(at(1.5, 0.05, true), at(1.6, 0.05), at(9, 0.2), at(9.3, 0.2))).toEqual([2, 3]);
    expect(far(at(1.5, 0.05), at(1.6, 0.05), at(9, 0.2, true), at(9.3, 0.2))).toEqual([0, 1]);
    // Two and two with no reference: no side to prefer, so no split.
    expect(far(at(1.5, 0.05), at(1.6, 0.05), at(9, 0.2), at(9.3, 0.2))).toEqual([]);
    // Runs far on both sides of the agreeing ones.
    expect(far(at(0.01, 0.001), at(1.5, 0.05, true), at(1.6, 0.05), at(1.55, 0.05), at(20, 1))).toEqual([0, 4]);
  });

  it('needs two runs that agree, and a spread to keep readable', () => {
    expect(far(at(1.5, 0.05, true), at(9, 0.5))).toEqual([]);
    expect(far(at(1.5, 0.05, true))).toEqual([]);
    expect(far()).toEqual([]);
    // Without intervals, runs 10% apart count as that wide (AGREEMENT.relative): a third 0.3 away is near, one far beyond is far.
    expect(far(at(1.5, NaN, true), at(1.5, NaN), at(1.8, NaN))).toEqual([]);
    expect(far(at(1.5, NaN, true), at(1.5, NaN), at(5, NaN))).toEqual([2]);
    // Points that coincide exactly, with no intervals and λ̂ = 0, have nothing to keep readable.
    expect(far(at(0, 0, true), at(0, 0), at(1, 0))).toEqual([]);
  });

  it('leaves runs without a finite λ̂ out, never far', () => {
    expect(far(at(1.51, 0.11, true), at(NaN), at(1.55, 0.14), at(1.61, 0.1), at(Infinity), at(8.89, 2.2))).toEqual([5]);
  });
});

describe('report plots', () => {
  const chains = 4;
  const draws = 200;
  const mcmc = randomWalks(31, chains, draws);
  const oneShot = normals(32, chains * 16, 0.5, 9);
  const series = (llc: Float64Array = mcmc, vi: Float64Array = oneShot, x = cumulativeFge(draws)) => [
    { label: 'sgld', llc, chains, draws, x, colourIndex: 0, estimate: { mean: 5, halfWidth: 0.1 }, final: false },
    { label: 'vi', llc: vi, chains, draws: 16, x: Float64Array.from({ length: 16 }, (_, i) => 5000 + i), colourIndex: 3, estimate: { mean: 9, halfWidth: 0.5 }, final: true },
  ];
  const comparison = (means = [1, 2, 3], halfWidths = [0.1, 0.2, 0.4]) =>
    comparisonPlot({
      groups: [
        { label: 'tgt_a', points: [{ series: 'hmc', mean: means[0], halfWidth: halfWidths[0], tooltip: 'hmc_1' }, { series: 'sgld', mean: means[1], halfWidth: halfWidths[1], tooltip: 'sgld_1' }] },
        { label: 'tgt_b', points: [{ series: 'hmc', mean: means[2], halfWidth: halfWidths[2], tooltip: 'hmc_2' }] },
      ],
      series: ['hmc', 'sgld'],
      yLabel: 'λ̂',
      title: 'comparison',
    });
  const scatter = (x: number[], y: number[]) => scatterPlot({ sets: [{ label: 'train', x, y }], xLabel: 'teacher', yLabel: 'student', title: 'scatter' });
  const bars = (values: (number | null)[]) => barPlot({ bars: values.map((value, i) => ({ label: `b${i}`, value })), yLabel: 'mse', title: 'bars' });

  it('are well-formed, self-contained and deterministic', () => {
    const docs = () => ({
      comparison: comparison(),
      overlay: overlayPlot({ series: series(), xLabel: 'FGE', logX: true, title: 'overlay' }),
      scatter: scatter([1, 2, 3], [1.1, 1.9, 3.2]),
      bars: bars([0.5, 0.25, null]),
    });
    const first = docs();
    const again = docs();
    for (const [name, svg] of Object.entries(first)) {
      checkDocument(svg, name);
      expect(again[name as keyof typeof again]).toBe(svg);
    }
  });

  it('draw each comparison interval at mean ± half-width, groups left to right', () => {
    const root = parseXml(comparison([1, 2, 3], [0.1, 0.2, 0.4]));
    const points = withClass(root, 'point');
    expect(points.map((p) => p.children[0].text.split(':')[0])).toEqual(['hmc_1', 'sgld_1', 'hmc_2']);
    const whiskerLength = (p: Element) => {
      const stem = p.children.find((e) => e.name === 'line')!;
      return Math.abs(Number(stem.attributes.y1) - Number(stem.attributes.y2));
    };
    const centre = (p: Element) => p.children.find((e) => e.name === 'circle')!.attributes;
    // Pixels are linear in λ̂: lengths in the ratio of the half-widths, centres in the ratio of the gaps between means.
    expect(whiskerLength(points[1]) / whiskerLength(points[0])).toBeCloseTo(2, 1);
    expect(whiskerLength(points[2]) / whiskerLength(points[0])).toBeCloseTo(4, 1);
    const y = points.map((p) => Number(centre(p).cy));
    expect((y[0] - y[2]) / (y[0] - y[1])).toBeCloseTo(2, 2);
    const x = points.map((p) => Number(centre(p).cx));
    expect(x[0]).toBeLessThan(x[1]);
    expect(x[1]).toBeLessThan(x[2]);
  });

  it('draw a run far from the others in a panel of its own, so that the others fill the main one', () => {
    const point = (series: string, mean: number, halfWidth: number, reference = false) => ({ series, mean, halfWidth, tooltip: `${series}_1`, reference });
    const svg = comparisonPlot({
      groups: [
        { label: 'tgt_a', points: [point('hmc', 1.51, 0.11, true), point('mclmc', 1.55, 0.14), point('sgld', 1.61, 0.1), point('vi', 8.89, 2.2)] },
        { label: 'tgt_b', points: [point('hmc', 1.56, 0.08, true), point('mclmc', 1.67, 0.11), point('sgld', 1.66, 0.09), point('vi', 1.7, 0.3)] },
      ],
      series: ['hmc', 'mclmc', 'sgld', 'vi'],
      yLabel: 'λ̂',
      title: 'split',
    });
    const root = checkDocument(svg, 'split');
    const [main, side] = withClass(root, 'panel');
    expect([main.attributes['data-panel'], side.attributes['data-panel']]).toEqual(['main', 'far']);
    const frame = (panel: Element) => {
      const r = withClass(panel, 'frame')[0].attributes;
      return { left: Number(r.x), right: Number(r.x) + Number(r.width), top: Number(r.y), bottom: Number(r.y) + Number(r.height) };
    };
    const [m, f] = [frame(main), frame(side)];
    expect(f.left).toBeGreaterThan(m.right);
    // The far panel holds tgt_a's VI run alone; tgt_b's VI run agrees with the others and stays.
    expect(withClass(side, 'point').map((p) => p.children[0].text)).toEqual(['vi_1: 8.89 ± 2.2']);
    expect(withClass(main, 'point').map((p) => p.attributes['data-series'])).toEqual(['hmc', 'mclmc', 'sgld', 'hmc', 'mclmc', 'sgld', 'vi']);
    // The runs left in the main panel span most of its height: its scale is theirs.
    const ends = withClass(main, 'point').flatMap((p) => p.children.filter((e) => e.name === 'line').flatMap((l) => [Number(l.attributes.y1), Number(l.attributes.y2)]));
    expect((Math.max(...ends) - Math.min(...ends)) / (m.bottom - m.top)).toBeGreaterThan(0.6);
    // An arrow where the far run was, pointing up at the top edge, and a heading naming the sampler.
    const [arrow] = withClass(main, 'far-mark');
    expect(arrow.attributes['data-series']).toBe('vi');
    expect(arrow.children[0].text).toContain('far from the others');
    const tip = arrow.children[1].attributes.points.split(' ').map((pt) => Number(pt.split(',')[1]));
    expect(Math.min(...tip)).toBe(m.top);
    expect(withClass(root, 'panel-heading').map((e) => e.text)).toEqual(['far from the others: vi']);
    // Without a far run: one panel, as before.
    const single = parseXml(comparison());
    expect(withClass(single, 'panel').map((p) => p.attributes['data-panel'])).toEqual(['main']);
    expect(withClass(single, 'far-mark')).toEqual([]);
    expect(withClass(single, 'panel-heading')).toEqual([]);
  });

  it("mark a target's true λ as a dashed line across its column, at its height, and in the legend", () => {
    const svg = comparisonPlot({
      groups: [
        { label: 'tgt_a', points: [{ series: 'hmc', mean: 1.5, halfWidth: 0.05, tooltip: 'hmc_1' }] },
        // λ = 9 lies above every point: the scale reaches it.
        { label: 'tgt_b', points: [{ series: 'hmc', mean: 8.5, halfWidth: 0.05, tooltip: 'hmc_2' }], truth: 9 },
      ],
      series: ['hmc'],
      yLabel: 'λ̂',
      title: 'truth',
    });
    const root = checkDocument(svg, 'truth');
    const [truth, ...more] = withClass(root, 'truth');
    expect(more).toEqual([]);
    expect(truth.children[0].text).toBe('true λ = 9');
    const line = truth.children[1].attributes;
    expect(line['stroke-dasharray']).toBeDefined();
    const frame = withClass(root, 'frame')[0].attributes;
    const [left, width, top] = [Number(frame.x), Number(frame.width), Number(frame.y)];
    // Across tgt_b's column, the right half of the panel.
    expect(Number(line.x1)).toBeGreaterThan(left + width / 2);
    expect(Number(line.x2)).toBeLessThanOrEqual(left + width);
    // Its height: on the linear axis through the two dots.
    const dots = withClass(root, 'point').map((p) => Number(p.children.find((e) => e.name === 'circle')!.attributes.cy));
    const y = (v: number) => dots[0] + ((v - 1.5) / (8.5 - 1.5)) * (dots[1] - dots[0]);
    expect(Number(line.y1)).toBeCloseTo(y(9), 6);
    expect(Number(line.y1)).toBeGreaterThanOrEqual(top);
    expect(withClass(root, 'legend')[0].children.filter((e) => e.name === 'text').map((e) => e.text)).toEqual(['hmc', 'true λ']);
    // Without a truth, neither mark nor legend entry.
    expect(withClass(parseXml(comparison()), 'truth')).toEqual([]);
  });

  it('overlay running means as lines and a final estimate (VI) as a marker with its interval', () => {
    const root = parseXml(overlayPlot({ series: series(), xLabel: 'FGE', logX: true, title: 'overlay' }));
    const [running, shot] = withClass(root, 'series');
    expect(running.children.map((e) => e.name)).toEqual(['polygon', 'polyline']);
    expect(shot.children.map((e) => e.name)).toEqual(['line', 'circle']);
    const legendText = withClass(root, 'legend')[0].children.filter((e) => e.name === 'text').map((e) => e.text);
    expect(legendText).toEqual(['sgld', 'vi']);
  });

  it('put the identity line on the scatter plot’s diagonal', () => {
    const root = parseXml(scatter([0, 1, 2], [0, 1, 2]));
    const identity = find(root, (e) => e.name === 'line' && e.attributes['stroke-dasharray'] !== undefined)[0].attributes;
    const dots = find(root, (e) => e.name === 'circle').map((c) => [Number(c.attributes.cx), Number(c.attributes.cy)]);
    // Points with student = teacher lie on the dashed line.
    const [x1, y1, x2, y2] = ['x1', 'y1', 'x2', 'y2'].map((k) => Number(identity[k]));
    for (const [cx, cy] of dots) expect(cy).toBeCloseTo(y1 + ((cx - x1) * (y2 - y1)) / (x2 - x1), 1);
  });

  it('draw bars in proportion to their values and mark a missing one', () => {
    const root = parseXml(bars([0.2, 0.4, null]));
    const heights = find(root, (e) => e.name === 'rect' && e.attributes.fill !== '#ffffff').map((r) => Number(r.attributes.height));
    expect(heights).toHaveLength(2);
    expect(heights[1] / heights[0]).toBeCloseTo(2, 2);
    expect(find(root, (e) => e.name === 'text').map((e) => e.text)).toContain('n/a');
  });

  it('survive diverged and empty inputs', () => {
    const diverged = Float64Array.from(mcmc);
    diverged.fill(NaN, 50, 120);
    diverged[300] = Infinity;
    checkDocument(overlayPlot({ series: series(diverged, oneShot.map(() => NaN)), xLabel: 'FGE', logX: true, title: 'o' }), 'o');
    checkDocument(overlayPlot({ series: [], xLabel: 'FGE', logX: false, title: 'o' }), 'o');
    checkDocument(comparison([NaN, 2, Infinity], [NaN, NaN, 1]), 'comparison');
    checkDocument(comparisonPlot({ groups: [], series: [], yLabel: 'λ̂', title: 'c' }), 'c');
    checkDocument(scatter([], []), 'scatter');
    checkDocument(scatter([NaN, 1], [2, Infinity]), 'scatter');
    checkDocument(bars([null, NaN]), 'bars');
    checkDocument(bars([]), 'bars');
  });
});
