/**
 * A run's artifact: analysis.json (strict JSON), Arrow IPC tables (traces.arrow: one row per chain
 * and draw; optimization.arrow: one row per chain and step, for VI), the run's plots as SVG, and
 * timing.json. Everything but timing.json (and the plot against wall time) is a function of the
 * config, the code and the kernel: the same seed and kernel give the same bytes, whatever the
 * machine's load or the number of threads.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { toJson } from './artifacts';
import { writeDirAtomic, writeFileAtomic } from './atomic';
import { Columns, writeArrowFile } from './tables';

/** Wall-clock facts about a run: where the time went, on how many threads. */
export interface RunTiming {
  warmup_s: number;
  sampling_s: number;
  total_s: number;
  threads: number;
  /** Seconds since the start of the run at each draw. */
  seconds: number[];
}

export async function writeRunArtifact(dir: string, analysis: object, timing: RunTiming, tables: Record<string, Columns>, plots: Record<string, string>): Promise<void> {
  await writeDirAtomic(dir, (tmp) => {
    writeFileAtomic(join(tmp, 'timing.json'), toJson(timing));
    for (const [name, columns] of Object.entries(tables)) writeArrowFile(join(tmp, name), columns);
    for (const [name, svg] of Object.entries(plots)) writeFileAtomic(join(tmp, name), svg);
    writeFileAtomic(join(tmp, 'analysis.json'), toJson(analysis));
  });
}

export function readAnalysis(dir: string): Record<string, unknown> {
  return JSON.parse(readFileSync(join(dir, 'analysis.json'), 'utf8'));
}

export function readTiming(dir: string): RunTiming {
  return JSON.parse(readFileSync(join(dir, 'timing.json'), 'utf8'));
}
