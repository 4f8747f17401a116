/**
 * A run's artifact: analysis.json (strict JSON), Arrow IPC tables (traces.arrow: one row per chain
 * and draw; optimization.arrow: one row per chain and step, for VI), and the run's plots as SVG.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toJson } from './artifacts';
import { writeDirAtomic, writeFileAtomic } from './atomic';
import { Columns, writeArrowFile } from './tables';

export async function writeRunArtifact(dir: string, analysis: object, tables: Record<string, Columns>, plots: Record<string, string>): Promise<void> {
  await writeDirAtomic(dir, (tmp) => {
    for (const [name, columns] of Object.entries(tables)) writeArrowFile(join(tmp, name), columns);
    for (const [name, svg] of Object.entries(plots)) writeFileAtomic(join(tmp, name), svg);
    writeFileAtomic(join(tmp, 'analysis.json'), toJson(analysis));
  });
}

export function readAnalysis(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, 'analysis.json'), 'utf8'));
}
