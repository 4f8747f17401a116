/**
 * A full disk under artifacts/ (a 96 KiB tmpfs, so root only; CI runs as root): the task that
 * cannot write says which artifact and why, in one message without a stack trace, and leaves no
 * part of it behind (packages/llc/src/atomic.ts, ArtifactWriteError).
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync } from 'node:fs';
import { afterAll, expect, it } from 'vitest';
import { buildTargetRule } from '../rules/build-target';
import { DEFAULT_PRESETS, loadExperiment } from '../rules/experiment';
import { sampleRule } from '../rules/sample';
import { ScratchWorkspace } from './support/workspace';

const ws = new ScratchWorkspace(`experiment: full
targets:
  - { model: small, data: small, seed: 1, overrides: { training: { steps: 50 } } }
samplers:
  - { name: sgld, overrides: { steps: 2000, warmup: 20, eval_every: 1, batch_size: 32 } }
`);
let mounted = false;
afterAll(() => {
  if (mounted) spawnSync('umount', [ws.path('artifacts')]);
  ws.dispose();
});

it('a task that finds the disk full names the artifact and the reason, without a stack trace, and keeps nothing of it', async (ctx) => {
  if (process.getuid?.() !== 0) ctx.skip('needs root to mount a small tmpfs (CI runs as root)');
  mkdirSync(ws.path('artifacts'));
  const mount = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=96k', 'tmpfs', ws.path('artifacts')], { encoding: 'utf8' });
  if (mount.status !== 0) ctx.skip(`cannot mount a tmpfs here (${(mount.stderr || '').trim()})`);
  mounted = true;
  const r = ws.nx('run-many', '-t', 'sample');
  expect(r.status).not.toBe(0);
  expect(r.output).toMatch(/cannot write \S+\/artifacts\/(runs|targets|experiments)\/\S+( \(writing \S+\))?: no space is left on the device: free some, or put artifacts\/ on a larger disk \(ENOSPC\); nothing of it was kept/);
  expect(r.output).not.toMatch(/^\s+at \S+:\d+:\d+\)?$/m);
  // Every artifact on the disk is complete; no temporary folder of the failed writer stays.
  const exp = await loadExperiment({ root: ws.root, presets: DEFAULT_PRESETS }, ws.path('config/experiments.yaml'));
  for (const t of exp.targets) if (ws.exists(`artifacts/targets/${t.id}`)) expect(buildTargetRule.verify(t, ws.root)).toBeNull();
  for (const run of exp.runs) expect(ws.exists(`artifacts/runs/${run.id}`) ? sampleRule.verify(run, ws.root) : null).toBeNull();
  for (const kind of ['targets', 'runs', 'experiments']) {
    const dir = ws.path(`artifacts/${kind}`);
    if (ws.exists(`artifacts/${kind}`)) expect(readdirSync(dir).filter((n) => n.includes('.tmp-'))).toEqual([]);
  }
});
