/**
 * The GPU benchmark: the WebGPU kernel against our CPU kernels (native and wasm, one thread) and a
 * PyTorch CUDA SGLD loop on the same GPU, on the three bench models, SGLD and HMC in float32 (WGSL
 * has no float64). Prints JSON lines: one per measurement, then a summary per model. Meant for a
 * machine with a GPU (bench/gpu/README.md says how to carry it there); anywhere else it measures
 * whatever adapter there is, and says so.
 *
 *   node -r @swc-node/register bench/gpu/bench.ts [quick]     (bench/gpu/run.sh on the GPU machine)
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { native } from '../../packages/llc/src/kernels/native';
import type { KernelEntry } from '../../packages/llc/src/kernels/types';
import { wasm } from '../../packages/llc/src/kernels/wasm';
import { webgpu } from '../../packages/llc/src/kernels/webgpu';
import { gpu } from '../../packages/llc/src/kernels/webgpu/device';
import { adapterName } from '../../packages/llc/src/kernels/webgpu/kernel';
import { layout } from '../../packages/llc/src/mlp';
import { CHAINS, gradientGflop, measure, MODELS, SGLD_BATCH, syntheticProblem, timeHmc, timeSgld } from '../support';

const quick = process.argv.includes('quick');
const BUDGET_S = quick ? 1 : 3;
const emit = (line: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'gpu', ...line }));

/** PyTorch's SGLD loop on CUDA (bench/peers/torch_sgld.py), or why not. */
function torchCuda(m: (typeof MODELS)[number], mode: 'loop' | 'batched'): number | string {
  const python = process.env.PYTHON ?? 'python3';
  const probe = spawnSync(python, ['-c', 'import torch; assert torch.cuda.is_available(); print(torch.__version__)'], { encoding: 'utf8' });
  if (probe.status !== 0) return `no ${python} with torch and CUDA`;
  const spec = { in_dim: m.arch.in_dim, widths: m.arch.widths, n: m.n, chains: CHAINS, batch: SGLD_BATCH, mode, seconds: BUDGET_S, device: 'cuda' };
  const r = spawnSync(python, [join(__dirname, '..', 'peers', 'torch_sgld.py'), JSON.stringify(spec)], { encoding: 'utf8' });
  if (r.status !== 0) return `the PyTorch loop failed: ${r.stderr.trim().split('\n').slice(-1)[0]}`;
  return JSON.parse(r.stdout).chain_steps_per_s;
}

function main(): void {
  const g = gpu();
  if (!g.ok) emit({ missing: `no WebGPU adapter: ${g.reason}` });
  else emit({ adapter: adapterName(g.adapter), description: g.adapter.description, software: g.adapter.software, limits: g.adapter.limits });
  const kernels: KernelEntry[] = [webgpu, native, wasm].filter((k) => {
    const a = k.available({ named: true });
    if (!a.ok) emit({ missing: `the ${k.name} kernel: ${a.reason}` });
    return a.ok;
  });
  for (const m of MODELS) {
    const d = layout(m.arch).d;
    const medians: Record<string, number> = {};
    for (const sampler of ['sgld', 'hmc'] as const) {
      const rows = sampler === 'sgld' ? SGLD_BATCH : m.n;
      for (const k of kernels) {
        const p = syntheticProblem(m, 'float32', sampler === 'sgld' ? SGLD_BATCH : 0, (problem) => k.create(problem, { threads: 1 }));
        try {
          const { secondsPerStep, steps } = measure((n) => (sampler === 'sgld' ? timeSgld(p.posterior, n) : timeHmc(p.posterior, n)), BUDGET_S);
          const gradsPerSecond = CHAINS / secondsPerStep;
          medians[`${sampler}/${k.name}`] = gradsPerSecond;
          emit({ model: m.model, d, n: m.n, sampler, dtype: 'float32', kernel: p.kernel.name, steps, grad_evals_per_s: gradsPerSecond, gflops: gradsPerSecond * gradientGflop(d, rows) });
        } finally {
          p.kernel.dispose();
        }
      }
    }
    for (const mode of ['loop', 'batched'] as const) {
      const r = torchCuda(m, mode);
      if (typeof r === 'string') emit({ model: m.model, missing: `torch-cuda-${mode}: ${r}` });
      else {
        medians[`sgld/torch-cuda-${mode}`] = r;
        emit({ model: m.model, d, n: m.n, sampler: 'sgld', dtype: 'float32', kernel: `torch-cuda-${mode}`, grad_evals_per_s: r, gflops: r * gradientGflop(d, SGLD_BATCH) });
      }
    }
    const torch = Math.max(medians['sgld/torch-cuda-loop'] ?? 0, medians['sgld/torch-cuda-batched'] ?? 0) || null;
    const gpuSgld = medians['sgld/webgpu'] ?? null;
    emit({
      summary: true,
      model: m.model,
      d,
      sgld_webgpu_over_wasm_one_core: gpuSgld && medians['sgld/wasm'] ? gpuSgld / medians['sgld/wasm'] : null,
      sgld_webgpu_over_native_one_core: gpuSgld && medians['sgld/native'] ? gpuSgld / medians['sgld/native'] : null,
      sgld_webgpu_over_torch_cuda: gpuSgld && torch ? gpuSgld / torch : null,
      hmc_webgpu_over_wasm_one_core: medians['hmc/webgpu'] && medians['hmc/wasm'] ? medians['hmc/webgpu'] / medians['hmc/wasm'] : null,
    });
  }
  process.exit(0);
}

main();
