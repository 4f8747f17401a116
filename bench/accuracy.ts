/**
 * Each sampler's relative error against the exact λ of regular models (linear regression, where
 * the localized posterior is Gaussian: λ = ½·Σ nβ·a_k/(nβ·a_k + γ)), at sizes and budgets larger
 * than the test suite's. Prints one JSON line per (size, sampler).
 *
 *   npm run bench:accuracy            all sizes
 *   npm run bench:accuracy -- quick   the smallest size only
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readTargetArtifact } from '../packages/llc/src/artifacts';
import { temperature } from '../packages/llc/src/posterior';
import { buildTargetRule } from '../rules/build-target';
import { DEFAULT_PRESETS, loadExperiment } from '../rules/experiment';
import { sampleRule } from '../rules/sample';
import { regularTruth } from '../test/support/regular-model';

const REPO = join(__dirname, '..');
const SIZES = [
  { in_dim: 10, n: 1000 },
  { in_dim: 50, n: 5000 },
];

/**
 * Budgets per sampler. SGLD's step is set from the largest posterior curvature λ_max so that its
 * discretisation bias (≈ ε·λ_max/4) stays below 1%, as a user tuning it would. HMC and MCLMC also
 * run in float32, the precision a GPU offers them, to measure what it costs.
 */
function samplers(lambdaMax: number): Record<string, string> {
  return {
    sgld: `{ name: sgld, seed: 3, overrides: { step_size: ${(0.02 / lambdaMax).toExponential(3)}, batch_size: 256, warmup: 5000, steps: 100000, eval_every: 50 } }`,
    hmc: '{ name: hmc, seed: 3, overrides: { draws: 4000, warmup: 1000 } }',
    hmcFloat32: '{ name: hmc, seed: 3, overrides: { draws: 4000, warmup: 1000, dtype: float32 } }',
    mclmc: '{ name: mclmc, seed: 3, overrides: { draws: 20000 } }',
    mclmcFloat32: '{ name: mclmc, seed: 3, overrides: { draws: 20000, dtype: float32 } }',
    vi: '{ name: vi, seed: 3, overrides: { steps: 5000, eval_samples: 256 } }',
  };
}

async function main(): Promise<void> {
  const sizes = process.argv.includes('quick') ? SIZES.slice(0, 1) : SIZES;
  for (const size of sizes) {
    const root = mkdtempSync(join(tmpdir(), 'lh-bench-accuracy-'));
    try {
      symlinkSync(join(REPO, 'config'), join(root, 'config'));
      // Full-batch gradient descent reaches the least-squares solution to machine precision on
      // every kernel, so the closed form applies exactly (Adam would hover around it).
      const target = `{ model: small, data: small, seed: 7, overrides: { model: { in_dim: ${size.in_dim}, depth: 0, widths: [], activation: identity },
        data: { n_data: ${size.n}, n_test: 100 }, training: { optimizer: sgd, learning_rate: 0.3, steps: 2000, early_stop_tol: 0.0 } } }`;
      const writeExperiment = (entries: string[]) =>
        writeFileSync(join(root, 'exp.yaml'), `experiment: accuracy\ntargets:\n  - ${target}\nsamplers:\n${entries.map((e) => `  - ${e}`).join('\n')}\n`);
      writeExperiment(['{ name: hmc }']);
      const probe = await loadExperiment({ root, presets: DEFAULT_PRESETS }, join(root, 'exp.yaml'));
      const log = () => {};
      await buildTargetRule.run(probe.targets[0], { root, log });
      const built = readTargetArtifact(join(root, 'artifacts', 'targets', probe.targets[0].id));
      const temp = temperature(probe.runs[0].posterior, size.n, size.in_dim + 1);
      const truth = regularTruth(built.X, built.Y, size.n, size.in_dim, built.params, temp.nBeta, temp.gamma);
      const lambdaMax = temp.nBeta * truth.eigenvalues[truth.eigenvalues.length - 1] + temp.gamma;

      const entries = samplers(lambdaMax);
      writeExperiment(Object.values(entries));
      const exp = await loadExperiment({ root, presets: DEFAULT_PRESETS }, join(root, 'exp.yaml'));
      for (const run of exp.runs) {
        const started = performance.now();
        await sampleRule.run(run, { root, log });
        const a = JSON.parse(readFileSync(join(root, 'artifacts', 'runs', run.id, 'analysis.json'), 'utf8'));
        const error = a.llc.mean - truth.lambda;
        console.log(
          JSON.stringify({
            bench: 'accuracy',
            sampler: run.sampler,
            dtype: a.dtype,
            d: size.in_dim + 1,
            n: size.n,
            exact: truth.lambda,
            llc: a.llc.mean,
            mcse: a.llc.mcse,
            rel_error: error / truth.lambda,
            error_in_mcse: error / a.llc.mcse,
            ess_bulk: a.llc.ess_bulk,
            r_hat: a.llc.r_hat,
            fge_per_chain: a.work.fge_warmup + a.work.fge_sampling,
            wall_s: (performance.now() - started) / 1000,
          }),
        );
      }
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  }
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
