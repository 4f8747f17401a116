/**
 * Makes the README's pictures from the default experiment: docs/nx-graph.png (what `nx graph`
 * shows, in its flat layout) and docs/report.png (the top of the experiment's report.html), in
 * headless Chromium. Run with `npm run pictures` after `npx nx run-many -t sample`.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const root = resolve(__dirname, '..');
const report = join(root, 'artifacts', 'experiments', 'dev', 'report.html');
const executablePath = process.env.CHROMIUM ?? '/usr/bin/chromium';

async function main(): Promise<void> {
  if (!existsSync(report)) throw new Error(`${report} is missing: run \`npx nx run-many -t sample\` first`);
  const scratch = mkdtempSync(join(tmpdir(), 'lh-graph-'));
  const nx = spawnSync('npx', ['nx', 'graph', `--file=${join(scratch, 'graph.html')}`], { cwd: root, stdio: 'inherit' });
  if (nx.status !== 0) throw new Error('nx graph failed');
  mkdirSync(join(root, 'docs'), { recursive: true });
  const browser = await chromium.launch({ executablePath, args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
  try {
    const graph = await browser.newPage({ viewport: { width: 1500, height: 620 } });
    await graph.goto(`file://${join(scratch, 'graph.html')}`);
    // Nx groups projects by folder by default; the flat layout shows targets, runs and the experiment.
    await graph.locator('button[title^="Choose how projects are displayed"]').click();
    await graph.getByText('Flat', { exact: true }).click();
    await graph.keyboard.press('Escape'); // close the layout menu so it does not cover the graph
    await graph.mouse.click(5, 600);
    await graph.waitForTimeout(2000);
    await graph.screenshot({ path: join(root, 'docs', 'nx-graph.png') });

    const page = await browser.newPage({ viewport: { width: 1400, height: 1250 } });
    await page.goto(`file://${report}`);
    await page.screenshot({ path: join(root, 'docs', 'report.png') });
  } finally {
    await browser.close();
    rmSync(scratch, { recursive: true, force: true });
  }
  console.log('wrote docs/nx-graph.png and docs/report.png');
}

main().catch((e) => {
  console.error(e instanceof Error ? e.message : e);
  process.exit(1);
});
