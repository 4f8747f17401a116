/** A run's artifact: analysis.json (strict JSON) and traces.arrow (one row per chain and draw). */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toJson } from './artifacts';
import { writeDirAtomic, writeFileAtomic } from './atomic';
import { Columns, writeArrowFile } from './tables';

export async function writeRunArtifact(dir: string, analysis: object, traces: Columns): Promise<void> {
  await writeDirAtomic(dir, (tmp) => {
    writeArrowFile(join(tmp, 'traces.arrow'), traces);
    writeFileAtomic(join(tmp, 'analysis.json'), toJson(analysis));
  });
}

export function readAnalysis(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, 'analysis.json'), 'utf8'));
}
