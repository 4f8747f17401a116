/** Stage B: run one sampler against one trained target and write λ̂ with its traces (docs/mathematics.md). */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { artifactPath, readTargetArtifact, TargetArtifact } from '../packages/llc/src/artifacts';
import { lossFnFor } from '../packages/llc/src/config';
import { kernelSourceFiles } from '../packages/llc/src/kernels';
import type { NumericIdentity } from '../packages/llc/src/kernels/types';
import type { Dtype } from '../packages/llc/src/mlp';
import { taskKernel } from './kernel-choice';
import { LlcSummary, llcTrace, summarizeLlc } from '../packages/llc/src/llc';
import { Posterior, Temperature, temperature } from '../packages/llc/src/posterior';
import { keyFromSeed } from '../packages/llc/src/rng';
import { RunAnalysis, writeRunArtifact } from '../packages/llc/src/run-artifact';
import { RunStatus, runStatus } from '../packages/llc/src/status';
import type { Columns } from '../packages/llc/src/tables';
import { loadSampler, samplerModulePath } from '../packages/llc/src/samplers';
import type { Progress, SamplerResult } from '../packages/llc/src/samplers/types';
import type { RunSpec } from './experiment';
import { checkFiles, Rule, RuleContext, UserError } from './rule';
import { versions } from './versions';

/**
 * The files of a run's folder (run-artifact.ts). optimization.arrow is written only by the samplers
 * that optimise (VI, flow); listed for every run, as Nx caches what exists of a task's outputs, so
 * that adding a sampler stays one file.
 */
const RUN_FILES = ['analysis.json', 'traces.arrow', 'optimization.arrow'];

export const sampleRule: Rule<RunSpec> = {
  name: 'sample',
  codeEntryPoints: (spec) => [__filename, samplerModulePath(spec.sampler), ...kernelSourceFiles()],
  outputs: (spec) => RUN_FILES.map((f) => join(artifactPath.run(spec.id), f)),
  verify: (spec, root) => checkFiles(root, artifactPath.run(spec.id), ['analysis.json', 'traces.arrow']),
  // Every sampler's kernel computes in its `dtype` option (SamplerModule.precision), which presets require.
  precisions: (spec) => [(spec.options as { dtype: Dtype }).dtype],
  upstream: (spec) => [artifactPath.target(spec.target)],

  async run(spec, ctx) {
    const started = performance.now();
    const s = await sampleOnTarget(spec, ctx);
    const { result, llc } = s;
    const analysis: RunAnalysis = {
      run_id: spec.id,
      target_id: spec.target,
      target: s.target.meta.build,
      sampler: spec.sampler,
      seed: spec.seed,
      options: spec.options,
      posterior: spec.posterior,
      temperature: { n: s.temperature.n, beta: s.temperature.beta, n_beta: s.temperature.nBeta, gamma: s.temperature.gamma },
      d: s.target.meta.dims.d,
      dtype: s.dtype,
      kernel: s.kernel,
      kernel_identity: s.kernelIdentity,
      L0: s.L0,
      L0_float64: s.target.meta.L0,
      llc: s.summary,
      estimated_per_chain: s.estimatedPerChain,
      work: result.work,
      diagnostics: result.diagnostics,
      divergences: result.divergences ?? null,
      mala_acceptance: result.mala ?? null,
      status: s.status,
      versions: versions(),
      timing: { ...result.timing, total_s: (performance.now() - started) / 1000, threads: s.threads, seconds: Array.from(result.seconds) },
    };
    if (analysis.status.state !== 'ok') ctx.log(`status ${analysis.status.state}: ${analysis.status.reasons.join('; ')}`);
    await writeRunArtifact(join(ctx.root, artifactPath.run(spec.id)), analysis, runTables(llc, result));
  },
};

/** A slice of a large sweep: runs of one sampler on one target that are one Nx task (graph.ts). */
export interface SampleSliceSpec {
  runs: RunSpec[];
}

/**
 * The runs of a slice, as one task. Each run still writes its own folder, complete or absent, and
 * the runner hands the runs to the backend one by one (runner/tasks.ts), so a slice spreads over
 * the workers like the runs it holds; `run` (by hand: `lambda-hat run sample-slice <file>`) runs
 * them in turn.
 */
export const sampleSliceRule: Rule<SampleSliceSpec> = {
  name: 'sample-slice',
  codeEntryPoints: (spec) => [...new Set(spec.runs.flatMap((r) => sampleRule.codeEntryPoints(r)))],
  outputs: (spec) => spec.runs.flatMap((r) => sampleRule.outputs(r)),
  verify: (spec, root) => spec.runs.reduce<string | null>((problem, r) => problem ?? sampleRule.verify(r, root), null),
  precisions: (spec) => [...new Set(spec.runs.flatMap((r) => sampleRule.precisions!(r)))],
  members: (spec) => spec.runs.map((r) => ({ project: r.id, rule: sampleRule.name, spec: r })),
  async run(spec, ctx) {
    for (const r of spec.runs) await sampleRule.run(r, ctx);
  },
};

/** What one sampler run on a trained target gives, before anything is written. */
export interface Sampled {
  target: TargetArtifact;
  result: SamplerResult;
  /** λ̂ at every draw (chains × draws). */
  llc: Float64Array;
  summary: LlcSummary;
  estimatedPerChain: boolean;
  status: RunStatus;
  temperature: Temperature;
  dtype: 'float32' | 'float64';
  kernel: string;
  kernelIdentity: NumericIdentity;
  threads: number;
  /** L_n(w*) from the sampling kernel, in its precision. */
  L0: number;
}

/** The settings `sampleOnTarget` needs: a run spec without its id. */
export type SamplerSettings = Omit<RunSpec, 'id'>;

/**
 * Runs one sampler against one trained target: the core of the sample rule, shared with tuning
 * trials. Its progress goes to `ctx.progress` and to `watch`, which may throw to stop the run early (a
 * pruned trial); the kernel is freed either way.
 */
export async function sampleOnTarget(spec: SamplerSettings, ctx: RuleContext, watch?: Progress): Promise<Sampled> {
  const targetDir = join(ctx.root, artifactPath.target(spec.target));
  if (!existsSync(join(targetDir, 'meta.json'))) throw new UserError(`target ${spec.target} has not been built (no ${targetDir}/meta.json)`);
  const target = readTargetArtifact(targetDir);
  const { build, dims } = target.meta;

  const sampler = await loadSampler(spec.sampler);
  const options = sampler.options.parse(spec.options);
  const { dtype, chains, maxBatch } = sampler.precision(options);
  const kernel = taskKernel({ arch: build.model, X: target.X, Y: target.Y, n: dims.n, lossFn: lossFnFor(build), dtype, chains, maxBatch }, ctx.log);
  try {
    const temp = temperature(spec.posterior, dims.n, dims.d);
    const posterior = new Posterior(kernel, target.params, temp);
    ctx.log(
      `${spec.sampler} on ${spec.target}: d = ${dims.d}, n = ${dims.n}, nβ = ${temp.nBeta.toPrecision(6)}, γ = ${temp.gamma}, ` +
        `${chains} chains, ${dtype}`,
    );
    const shown = ctx.progress;
    const progress: Progress | undefined =
      shown || watch
        ? (p) => {
            shown?.({ phase: p.phase, done: p.done, total: p.total, unit: p.phase === 'sampling' ? 'draws' : 'steps', ...(p.llc !== undefined && { metric: { name: 'λ̂', value: p.llc } }) });
            watch?.(p);
          }
        : undefined;
    const result = sampler.run(posterior, options, keyFromSeed(spec.seed), progress);
    const llc = llcTrace(result.Ln, posterior.L0, temp.nBeta);
    const summary = summarizeLlc(llc, result.chains, result.draws, result.llcPerChain);
    const estimatedPerChain = result.llcPerChain !== undefined;
    ctx.log(
      `λ̂ = ${summary.mean.toPrecision(6)} ± ${summary.mcse.toPrecision(3)} (MCSE) from ${result.chains} × ${result.draws} draws; ` +
        `ESS bulk ${summary.ess_bulk.toFixed(0)}, tail ${summary.ess_tail.toFixed(0)}, R̂ ${summary.r_hat.toFixed(3)}`,
    );
    const status = runStatus({
      llc: summary,
      nonFiniteDraws: result.Ln.reduce((k, l) => (Number.isFinite(l) ? k : k + 1), 0),
      estimatedPerChain,
      divergences: result.divergences,
      mala: result.mala,
      warnings: result.warnings,
    });
    return { target, result, llc, summary, estimatedPerChain, status, temperature: temp, dtype, kernel: kernel.name, kernelIdentity: kernel.identity, threads: kernel.threads, L0: posterior.L0 };
  } finally {
    kernel.dispose();
  }
}

/** One row per chain and draw (traces.arrow) and, for VI, per chain and optimisation step (optimization.arrow). */
function runTables(llc: Float64Array, r: SamplerResult): Record<string, Columns> {
  const perChainRows = (count: number) => ({
    chain: Int32Array.from({ length: r.chains * count }, (_, i) => Math.floor(i / count)),
    index: Int32Array.from({ length: r.chains * count }, (_, i) => i % count),
  });
  const draws = perChainRows(r.draws);
  const tables: Record<string, Columns> = {
    'traces.arrow': {
      chain: draws.chain,
      draw: draws.index,
      fge: Float64Array.from(draws.index, (t) => r.fge[t]),
      Ln: r.Ln,
      llc,
      ...r.traces,
    },
  };
  if (r.optimization) {
    const steps = perChainRows(r.optimization.steps);
    tables['optimization.arrow'] = { chain: steps.chain, step: steps.index, ...r.optimization.curves };
  }
  return tables;
}
