/**
 * The comparison of record: our SGLD against a plain PyTorch SGLD loop, on one thread each, on the
 * same three models, batch (256 rows per chain), chains (4), precision (float32) and update
 * (`precond: none`), measured in one run with the implementations interleaved round by round.
 * Prints JSON lines: one per measurement, then one summary per model with the medians and the
 * ratio of our best kernel to the best PyTorch loop.
 *
 *   npm run bench:peers             three rounds of 2 s per measurement
 *   npm run bench:peers -- quick    one round of 1 s
 *
 * The peer is bench/peers/torch_sgld.py under Debian's python3-torch (`apt-get install
 * python3-torch`), with torch.set_num_threads(1), OPENBLAS_NUM_THREADS=1 and OMP_NUM_THREADS=1.
 * This program installs nothing: a missing python3, torch or native kernel is reported, and the
 * rest still runs.
 */
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { KERNELS } from '../packages/llc/src/kernels';
import { loadNativeAddon } from '../packages/llc/src/kernels/native';
import { layout } from '../packages/llc/src/mlp';
import { CHAINS, gradientGflop, measure, median, Model, MODELS, SGLD_BATCH, syntheticProblem, timeSgld } from './support';

const quick = process.argv.includes('quick');
const ROUNDS = quick ? 1 : 3;
const BUDGET_S = quick ? 1 : 2;
const TORCH_MODES = ['loop', 'batched'] as const;
const PYTHONS = ['python3', '/usr/bin/python3'];

const emit = (line: Record<string, unknown>) => console.log(JSON.stringify({ bench: 'peers', ...line }));

/** The first python3 that imports torch, or why there is none. */
function findTorch(): { python: string; version: string } | { missing: string } {
  for (const python of PYTHONS) {
    const r = spawnSync(python, ['-c', 'import torch; print(torch.__version__)'], { encoding: 'utf8' });
    if (r.status === 0) return { python, version: r.stdout.trim() };
  }
  return { missing: 'no python3 with torch (Debian: apt-get install python3-torch); the PyTorch peer is left out' };
}

function torchStepsPerSecond(python: string, m: Model, mode: (typeof TORCH_MODES)[number]): number {
  const spec = { in_dim: m.arch.in_dim, widths: m.arch.widths, n: m.n, chains: CHAINS, batch: SGLD_BATCH, mode, seconds: BUDGET_S };
  const env = { ...process.env, OPENBLAS_NUM_THREADS: '1', OMP_NUM_THREADS: '1', MKL_NUM_THREADS: '1' };
  const r = spawnSync(python, [join(__dirname, 'peers', 'torch_sgld.py'), JSON.stringify(spec)], { encoding: 'utf8', env });
  if (r.status !== 0) throw new Error(`the PyTorch peer failed:\n${r.stderr}`);
  return JSON.parse(r.stdout).chain_steps_per_s;
}

function main(): void {
  const torch = findTorch();
  if ('missing' in torch) emit({ missing: torch.missing });
  // CPU kernels, one thread each: bench/gpu compares the GPU with its own peers.
  const kernels = KERNELS.filter((k) => k.name !== 'webgpu').filter((k) => {
    const a = k.available({ named: true });
    if (!a.ok) emit({ missing: `the ${k.name} kernel: ${a.reason}` });
    return a.ok;
  });
  const native = loadNativeAddon();
  const peak = 'addon' in native ? native.addon.avx2PeakF32(1) : null;
  emit({ avx2_peak_gflops_per_core: peak, note: peak === null ? 'measured by the native addon, which is not available' : 'float32 AVX2 FMA throughput of one core, measured' });

  for (const m of MODELS) {
    const d = layout(m.arch).d;
    const gflop = gradientGflop(d, SGLD_BATCH);
    const results = new Map<string, number[]>();
    const record = (impl: string, round: number, chainStepsPerS: number) => {
      results.set(impl, [...(results.get(impl) ?? []), chainStepsPerS]);
      emit({ model: m.model, d, n: m.n, impl, round, chain_steps_per_s: chainStepsPerS, gflops: chainStepsPerS * gflop });
    };
    for (let round = 0; round < ROUNDS; round++) {
      for (const entry of kernels) {
        const p = syntheticProblem(m, 'float32', SGLD_BATCH, (problem) => entry.create(problem, { threads: 1 }));
        try {
          record(p.kernel.name, round, CHAINS / measure((steps) => timeSgld(p.posterior, steps), BUDGET_S).secondsPerStep);
        } finally {
          p.kernel.dispose();
        }
      }
      if ('python' in torch) for (const mode of TORCH_MODES) record(`torch-${mode}`, round, torchStepsPerSecond(torch.python, m, mode));
    }
    const medians = Object.fromEntries([...results].map(([impl, xs]) => [impl, median(xs)]));
    const best = (prefix: (impl: string) => boolean) => Object.entries(medians).filter(([impl]) => prefix(impl)).sort((a, b) => b[1] - a[1])[0];
    const ours = best((impl) => !impl.startsWith('torch-'));
    const peer = best((impl) => impl.startsWith('torch-'));
    emit({
      summary: true,
      model: m.model,
      d,
      n: m.n,
      chains: CHAINS,
      batch: SGLD_BATCH,
      rounds: ROUNDS,
      median_chain_steps_per_s: medians,
      best_ours: ours[0],
      best_torch: peer?.[0] ?? null,
      torch: 'version' in torch ? torch.version : null,
      ratio_ours_over_torch: peer ? ours[1] / peer[1] : null,
      gflops_best_ours: ours[1] * gflop,
      pct_of_avx2_peak: peak ? (100 * ours[1] * gflop) / peak : null,
    });
  }
}

main();
