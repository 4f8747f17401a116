/** `lambda-hat doctor` reports every kernel with its availability, the GPU, the BLAS and Slurm, and exits 0. */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { expect, it } from 'vitest';
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
