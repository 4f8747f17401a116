/**
 * `lambda-hat doctor` reports every kernel with its availability, the GPU, the BLAS and Slurm, and
 * exits 0. A Slurm command that is there but does not run is reported with why, not as missing, and
 * one that hangs (Slurm's commands wait 60 s for a missing slurm.conf, even for --version) is given up on.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, expect, it } from 'vitest';
import { KERNELS } from '../packages/llc/src/kernels';
import { REPO } from './support/workspace';

it('lambda-hat doctor says what this machine offers', () => {
  const env = { ...process.env, VK_DRIVER_FILES: '/nonexistent/vulkan/icd.json' };
  const r = spawnSync(process.execPath, [join(REPO, 'bin', 'lambda-hat.js'), 'doctor'], { encoding: 'utf8', env });
  expect(r.status, r.stderr).toBe(0);
  for (const k of KERNELS) expect(r.stdout).toMatch(new RegExp(`^  ${k.name} +float32.* (available|not available: .+)$`, 'm'));
  expect(r.stdout).toMatch(/^  webgpu +float32 +not available: no usable WebGPU adapter: /m);
  expect(r.stdout).toMatch(/^  auto, float32: (native|wasm), after skipping webgpu; cache keys carry .+, float32, (no )?fused multiply-add$/m);
  expect(r.stdout).toMatch(/^  auto, float64: (native|wasm), after skipping webgpu; cache keys carry .+, float64, (no )?fused multiply-add$/m);
  expect(r.stdout).toMatch(/^webgpu +no adapter: /m);
  expect(r.stdout).toMatch(/^wasm +(relaxed|plain) SIMD/m);
  expect(r.stdout).toMatch(/^blas +/m);
  expect(r.stdout).toMatch(/^slurm +/m);
});

/** doctor's Slurm line with `sbatch` on PATH behaving as `shell` says. */
const bin = mkdtempSync(join(tmpdir(), 'lh-doctor-'));
afterAll(() => rmSync(bin, { recursive: true, force: true }));
function slurmLineWith(shell: string): string {
  writeFileSync(join(bin, 'sbatch'), `#!/bin/sh\n${shell}\n`, { mode: 0o755 });
  const env = { ...process.env, PATH: `${bin}:${process.env.PATH}`, VK_DRIVER_FILES: '/nonexistent/vulkan/icd.json' };
  const r = spawnSync(process.execPath, [join(REPO, 'bin', 'lambda-hat.js'), 'doctor'], { encoding: 'utf8', env });
  expect(r.status, r.stderr).toBe(0);
  return /^slurm +(.*)$/m.exec(r.stdout)![1];
}

it('says why a Slurm command there does not run: its stderr, the command line, its exit status', () => {
  expect(slurmLineWith('echo "sbatch: fatal: Unable to process configuration file" >&2; exit 1')).toBe(
    'sbatch does not run: sbatch: fatal: Unable to process configuration file (Command failed with exit code 1: sbatch --version)',
  );
});

it('gives up on a Slurm command that does not answer, with what it wrote', () => {
  expect(slurmLineWith('echo "sbatch: error: s_p_parse_file: cannot stat file /etc/slurm/slurm.conf, retrying in 1sec up to 60sec" >&2; exec sleep 60')).toBe(
    'sbatch does not run: sbatch: error: s_p_parse_file: cannot stat file /etc/slurm/slurm.conf, retrying in 1sec up to 60sec (Command timed out after 5000 milliseconds: sbatch --version)',
  );
});
