/**
 * A WebGPU adapter for tests on machines without a GPU: Mesa's lavapipe from
 * scripts/software-vulkan.sh, pointed to by VK_ICD_FILENAMES in this process (the Vulkan loader
 * reads it when Dawn starts), so that only the test files that ask for it see an adapter. The
 * loader itself (Debian's libvulkan1) must be installed: the dynamic loader looks for it when the
 * process starts. LAMBDA_HAT_REQUIRE_WEBGPU=1 (CI sets it) turns a missing adapter into a failure.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { webgpu } from '../../packages/llc/src/kernels/webgpu';
import { REPO } from './workspace';

export const REQUIRE_WEBGPU = process.env.LAMBDA_HAT_REQUIRE_WEBGPU === '1';

/** The lavapipe manifest, fetched on first use; null (with a warning) where that fails. */
export function softwareVulkanIcd(): string | null {
  const r = spawnSync('bash', [join(REPO, 'scripts', 'software-vulkan.sh')], { encoding: 'utf8' });
  const icd = /VK_ICD_FILENAMES='([^']+)'/.exec(r.stdout)?.[1];
  if (r.status !== 0 || !icd) {
    console.warn(`\n*** scripts/software-vulkan.sh failed, so no software WebGPU adapter: ${r.stderr.trim().split('\n').slice(-3).join(' | ')} ***\n`);
    return null;
  }
  return icd;
}

/** Makes lavapipe this process's WebGPU adapter; returns whether the webgpu kernel is then available. */
export function useSoftwareVulkan(): { ok: true } | { ok: false; reason: string } {
  const icd = softwareVulkanIcd();
  if (icd) process.env.VK_ICD_FILENAMES = icd;
  const a = webgpu.available({ named: true });
  if (!a.ok) console.warn(`\n*** no WebGPU adapter, the WebGPU tests are skipped: ${a.reason} ***\n`);
  return a;
}
