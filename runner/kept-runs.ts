/**
 * Runs of a slice kept from an earlier attempt. A slice of a large sweep is one Nx task
 * (plugins/lambda-hat/src/graph.ts), so Nx reruns the whole slice when any of its runs changes, or
 * when a seed joins it. Each run that this machine computed before from the same inputs Nx would
 * key it on alone (its spec, the code it runs, the kernel's numeric identity, the target's arrays)
 * is kept instead: a ledger entry per run, written when the run succeeds, holds that key and a
 * fingerprint of the run's folder as it was written, and a run is kept only while both still
 * match. So an edit that reaches one run of a slice computes that run, as it would without slices.
 * Runs restored from Nx's cache have no entry and are computed again when their slice next reruns.
 */
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { writeFileAtomic } from '../packages/llc/src/atomic';
import { canonicalJson } from '../packages/llc/src/canonical';
import type { Dtype } from '../packages/llc/src/mlp';
import { RULES } from '../rules';
import { CodeInputScanner } from './code-inputs';
import { hashTree } from './hash-tree';
import { keyLines } from './kernel-keys';

export interface KeptTask {
  /** The run's project name (its id), which names its ledger entry. */
  project: string;
  rule: string;
  spec: unknown;
}

export class KeptRuns {
  private readonly scanner: CodeInputScanner;
  private readonly codeHashes = new Map<string, string>();
  private readonly kernelLines = new Map<string, string>();

  constructor(private readonly root: string) {
    this.scanner = new CodeInputScanner(root);
  }

  private entryPath(project: string): string {
    return join(this.root, 'artifacts', '.work', 'kept', `${project}.json`);
  }

  /** The code the task runs: its import closure's files and the locked npm packages. */
  private codeHash(entryPoints: string[]): string {
    const key = entryPoints.join('\0');
    let h = this.codeHashes.get(key);
    if (!h) {
      const hash = createHash('sha256');
      for (const f of this.scanner.closure(entryPoints).files) hash.update(`${f}\0`).update(readFileSync(join(this.root, f))).update('\0');
      hash.update(readFileSync(join(this.root, 'package-lock.json')));
      h = hash.digest('hex');
      this.codeHashes.set(key, h);
    }
    return h;
  }

  /** The identity of the kernel each precision would use here, as the tasks' Nx keys carry it (kernel-keys.ts). */
  private kernels(dtypes: Dtype[]): string {
    const key = dtypes.join(' ');
    let lines = this.kernelLines.get(key);
    if (lines === undefined) {
      lines = keyLines(this.root, dtypes).join('\n');
      this.kernelLines.set(key, lines);
    }
    return lines;
  }

  /** What Nx would key the run on as a task of its own. */
  private inputsKey(t: KeptTask): string {
    const rule = RULES[t.rule];
    const hash = createHash('sha256').update(`${t.rule}\0${canonicalJson(t.spec)}\0`);
    hash.update(this.codeHash(rule.codeEntryPoints(t.spec))).update('\0').update(this.kernels(rule.precisions?.(t.spec) ?? [])).update('\0');
    // The upstream arrays, as a run's Nx task reads them (graph.ts: dependentTasksOutputFiles '**/*.npy').
    for (const dir of rule.upstream?.(t.spec) ?? []) hashTree(hash, this.root, dir, (name, isDirectory) => isDirectory || name.endsWith('.npy'));
    return hash.digest('hex');
  }

  /** The run's outputs as they are now. */
  private fingerprint(t: KeptTask): string {
    const hash = createHash('sha256');
    for (const path of RULES[t.rule].outputs(t.spec)) hashTree(hash, this.root, path);
    return hash.digest('hex');
  }

  /**
   * Whether the run's outputs on disk are what this machine computed from the inputs it has now,
   * and the key of those inputs, for `record` once the run is computed (the key reads the code and
   * the target's arrays: made once per run).
   */
  check(t: KeptTask): { kept: boolean; key: string } {
    const key = this.inputsKey(t);
    const path = this.entryPath(t.project);
    if (!existsSync(path) || RULES[t.rule].verify(t.spec, this.root)) return { kept: false, key };
    try {
      const entry = JSON.parse(readFileSync(path, 'utf8')) as { key?: string; fingerprint?: string };
      return { kept: entry.key === key && entry.fingerprint === this.fingerprint(t), key };
    } catch {
      return { kept: false, key };
    }
  }

  /** Notes a run that just succeeded, computed from the inputs `key` (check's). */
  record(t: KeptTask, key: string): void {
    writeFileAtomic(this.entryPath(t.project), JSON.stringify({ key, fingerprint: this.fingerprint(t) }));
  }
}
