/**
 * The report of an experiment where one sampler is far from the others (VI at λ̂ ≈ 8.9 where HMC,
 * MCLMC and SGLD agree on ≈ 1.5–1.6, the default experiment's numbers in README's picture), opened
 * in headless Chromium: the comparison plot draws VI in a panel of its own beside the main one, and
 * the runs that agree spread over the main panel's height instead of a few pixels. One target and
 * one run are computed; the others are copies of its artifacts with those λ̂, as in
 * report-scale.test.ts.
 */
import { linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildTargetRule } from '../rules/build-target';
import { DEFAULT_PRESETS, loadExperiment } from '../rules/experiment';
import { ReportSpec, writeReport } from '../rules/report';
import { sampleRule } from '../rules/sample';
import { hasChromium, launchChromium } from './support/chromium';
import { REPO } from './support/workspace';

const root = mkdtempSync(join(tmpdir(), 'lh-report-far-'));
const artifacts = (...parts: string[]) => join(root, 'artifacts', ...parts);
const RUN_FILES = ['traces.arrow'];
/** λ̂ and MCSE of each sampler's run, as in README's picture of the default experiment's report. */
const RUNS = [
  { sampler: 'hmc', mean: 1.513, mcse: 0.058 },
  { sampler: 'mclmc', mean: 1.551, mcse: 0.074 },
  { sampler: 'sgld', mean: 1.612, mcse: 0.05 },
  { sampler: 'vi', mean: 8.891, mcse: 1.1 },
];

beforeAll(async () => {
  symlinkSync(join(REPO, 'config'), join(root, 'config'));
  writeFileSync(
    join(root, 'exp.yaml'),
    'experiment: far\ntargets:\n  - { model: small, data: small, seed: 1, overrides: { training: { steps: 50 } } }\nsamplers:\n  - { name: sgld, overrides: { steps: 200, warmup: 20, eval_every: 10, chains: 2 } }\n',
  );
  const exp = await loadExperiment({ root, presets: DEFAULT_PRESETS }, join(root, 'exp.yaml'));
  const ctx = { root, log: () => {} };
  await buildTargetRule.run(exp.targets[0], ctx);
  await sampleRule.run(exp.runs[0], ctx);
  const original = JSON.parse(readFileSync(artifacts('runs', exp.runs[0].id, 'analysis.json'), 'utf8'));
  const runs: ReportSpec['runs'] = RUNS.map(({ sampler, mean, mcse }, i) => {
    const id = `${sampler}_${(0xf00 + i).toString(16).padStart(12, '0')}`;
    mkdirSync(artifacts('runs', id));
    for (const f of RUN_FILES) linkSync(artifacts('runs', exp.runs[0].id, f), artifacts('runs', id, f));
    writeFileSync(artifacts('runs', id, 'analysis.json'), JSON.stringify({ ...original, run_id: id, sampler, llc: { ...original.llc, mean, mcse } }));
    return { id, target: exp.targets[0].id, sampler, label: sampler, target_label: 'small/small' };
  });
  writeReport(root, { experiment: 'far', file: 'exp.yaml', runs }, artifacts('experiments', 'far'), ctx);
}, 120_000);
afterAll(() => rmSync(root, { recursive: true, force: true }));

interface Box {
  left: number;
  right: number;
  top: number;
  bottom: number;
}

/** What the test reads of an element in the page (this project compiles without the DOM's types). */
interface Shape {
  getBoundingClientRect(): Box;
  getAttribute(name: string): string | null;
  querySelector(selector: string): Shape | null;
  querySelectorAll(selector: string): ArrayLike<Shape>;
  textContent: string | null;
}

describe.skipIf(!hasChromium)('a run far from the others, in headless Chromium', () => {
  it('gets a panel of its own beside the main one, and the others fill the main panel', async () => {
    const browser = await launchChromium();
    try {
      const page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
      const errors: string[] = [];
      page.on('console', (m) => m.type() === 'error' && errors.push(m.text()));
      page.on('pageerror', (e) => errors.push(String(e)));
      await page.goto(`file://${artifacts('experiments', 'far', 'report.html')}`, { waitUntil: 'load' });
      const plots = await page.$$eval('img.plot', (imgs) => imgs.map((i) => ({ ok: i.complete && i.naturalWidth > 0, src: i.getAttribute('src')! })));
      expect(plots.map((p) => p.ok)).toEqual([true]);
      expect(await page.locator('#comparison p.note', { hasText: 'far from the others' }).count()).toBe(1);
      expect(errors).toEqual([]);

      // The plot as the browser lays it out: its SVG, inline, measured.
      const svg = Buffer.from(plots[0].src.replace(/^data:image\/svg\+xml;base64,/, ''), 'base64').toString('utf8');
      await page.setContent(`<!DOCTYPE html><html><body style="margin:0">${svg}</body></html>`);
      const layout = await page.$eval('svg', (svg: Shape) => {
        const box = (e: Shape) => {
          const r = e.getBoundingClientRect();
          return { left: r.left, right: r.right, top: r.top, bottom: r.bottom };
        };
        const heading = svg.querySelector('.panel-heading');
        return {
          width: box(svg).right,
          heading: heading && { text: heading.textContent, box: box(heading) },
          panels: Array.from(svg.querySelectorAll('g.panel'), (p) => ({
            name: p.getAttribute('data-panel'),
            frame: box(p.querySelector('rect.frame')!),
            points: Array.from(p.querySelectorAll('g.point'), (g) => ({ series: g.getAttribute('data-series'), box: box(g) })),
          })),
        };
      });
      expect(layout.panels.map((p) => p.name)).toEqual(['main', 'far']);
      const [main, far] = layout.panels;
      expect(main.points.map((p) => p.series)).toEqual(['hmc', 'mclmc', 'sgld']);
      expect(far.points.map((p) => p.series)).toEqual(['vi']);
      const inside = (b: Box, frame: Box) => b.left >= frame.left && b.right <= frame.right && b.top >= frame.top - 0.5 && b.bottom <= frame.bottom + 0.5;
      for (const p of main.points) expect(inside(p.box, main.frame), String(p.series)).toBe(true);
      expect(inside(far.points[0].box, far.frame)).toBe(true);
      // Side by side, within the picture.
      expect(far.frame.left).toBeGreaterThan(main.frame.right);
      expect(far.frame.right).toBeLessThanOrEqual(layout.width);
      expect(layout.heading?.text).toBe('far from the others: vi');
      expect(layout.heading!.box.bottom).toBeLessThanOrEqual(far.frame.top);
      // The agreeing runs, intervals and all, span most of the main panel's height (on one axis with VI they took a few per cent of it).
      const spread = Math.max(...main.points.map((p) => p.box.bottom)) - Math.min(...main.points.map((p) => p.box.top));
      expect(spread / (main.frame.bottom - main.frame.top)).toBeGreaterThan(0.6);
    } finally {
      await browser.close();
    }
  }, 120_000);
});
