/**
 * The field's benchmark: deep linear networks, whose true learning coefficient is known in closed
 * form (Aoyagi's formula, packages/llc/src/aoyagi.ts), estimated by every sampler through the real
 * Stage A and Stage B rules, for several widths, depths and teacher ranks and n up to 10⁵.
 * One JSON line per (network, n, sampler), then one summary line per (sampler, n) with the median
 * relative error across networks, and a Markdown table of relative errors (bench/README.md).
 *
 *   npm run bench:dln            every network at n = 10³, 10⁴, 10⁵ (about 30 minutes on 2 cores)
 *   npm run bench:dln -- quick   the first network at n = 10³ only
 * DLN_ONLY=<name,…> and DLN_N=<n,…> pick networks and sizes.
 */
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { aoyagiLambda, closedFormLambda } from '../packages/llc/src/aoyagi';
import { readTargetArtifact } from '../packages/llc/src/artifacts';
import { MlpArch, MlpEvaluator, layout } from '../packages/llc/src/mlp';
import { temperature } from '../packages/llc/src/posterior';
import { buildTargetRule } from '../rules/build-target';
import { DEFAULT_PRESETS, loadExperiment } from '../rules/experiment';
import { sampleRule } from '../rules/sample';
import { median } from './support';

const REPO = join(__dirname, '..');

interface Network {
  name: string;
  /** [input, hidden…, output]. */
  widths: number[];
  /** Rank of the teacher's product matrix (its single hidden layer has this width). */
  rank: number;
}

/** Several depths, widths and ranks; λ from Aoyagi's formula in brackets. */
const NETWORKS: Network[] = [
  { name: 'dln-5x4-r2', widths: [5, 5, 5, 5], rank: 2 }, // three layers, d = 75, λ = 11
  { name: 'dln-6-8-4-r1', widths: [6, 8, 4], rank: 1 }, // one hidden layer (reduced-rank regression), d = 80, λ = 12
  { name: 'dln-4x6-r3', widths: [4, 6, 6, 6, 6, 4], rank: 3 }, // five layers, d = 156, λ = 8
];
const SIZES = [1_000, 10_000, 100_000];

/** The largest eigenvalue of the Hessian of L_n at w, by power iteration on finite differences of the exact gradient. */
function largestCurvature(arch: MlpArch, X: Float64Array, Y: Float64Array, n: number, w: Float64Array): number {
  const ev = new MlpEvaluator(arch, n);
  const d = w.length;
  const lossFn = { kind: 'mse' as const, df: 0, scale: 0 };
  const gradAt = (p: Float64Array) => {
    const g = new Float64Array(d);
    ev.lossAndGrad(p, 0, X, Y, null, n, lossFn, g, 0);
    return g;
  };
  let v = new Float64Array(d).map((_, i) => Math.sin(i + 1));
  let eig = 0;
  const h = 1e-5;
  for (let it = 0; it < 60; it++) {
    const norm = Math.hypot(...v);
    v = v.map((x) => x / norm);
    const gp = gradAt(w.map((x, i) => x + h * v[i]));
    const gm = gradAt(w.map((x, i) => x - h * v[i]));
    const hv = gp.map((x, i) => (x - gm[i]) / (2 * h));
    eig = hv.reduce((s, x, i) => s + x * v[i], 0);
    v = hv;
  }
  return eig;
}

/**
 * Every sampler's settings. SGLD's step is set from the largest posterior curvature so that its
 * discretisation bias stays near 1%, as a user checking the MALA acceptance would; the others run
 * their presets, with a longer warm-up (HMC) and more draws (MCLMC).
 */
function samplers(stepSize: number): string[] {
  return [
    `{ name: sgld, seed: 5, overrides: { step_size: ${stepSize.toExponential(3)}, batch_size: 256, warmup: 20000, steps: 200000, eval_every: 50 } }`,
    '{ name: hmc, seed: 5, overrides: { draws: 1000, warmup: 300 } }',
    '{ name: mclmc, seed: 5, overrides: { draws: 5000 } }',
    '{ name: vi, seed: 5 }',
  ];
}

interface Row {
  network: string;
  n: number;
  sampler: string;
  rel_error: number;
}

async function main(): Promise<void> {
  const quick = process.argv.includes('quick');
  const only = process.env.DLN_ONLY?.split(',');
  const networks = quick ? NETWORKS.slice(0, 1) : NETWORKS.filter((x) => !only || only.includes(x.name));
  const sizes = quick ? SIZES.slice(0, 1) : (process.env.DLN_N?.split(',').map(Number) ?? SIZES);
  const rows: Row[] = [];
  for (const net of networks) {
    const inDim = net.widths[0];
    const outDim = net.widths[net.widths.length - 1];
    const hidden = net.widths.slice(1, -1);
    for (const n of sizes) {
      const root = mkdtempSync(join(tmpdir(), 'lh-bench-dln-'));
      try {
        symlinkSync(join(REPO, 'config'), join(root, 'config'));
        // Student: the deep linear network; teacher: a linear map of rank `rank` (one hidden layer
        // that narrow), with noise σ = 0.1 so its singular values stand far above the noise.
        const target = `{ model: small, data: small, seed: 11, overrides: {
          model: { in_dim: ${inDim}, out_dim: ${outDim}, depth: ${hidden.length}, widths: [${hidden.join(', ')}], activation: identity, bias: false },
          teacher: { depth: 1, widths: [${net.rank}], activation: identity, bias: false, dropout_rate: 0 },
          data: { n_data: ${n}, n_test: 0, noise_scale: 0.1 },
          training: { optimizer: adam, learning_rate: 0.01, steps: 20000, early_stop_tol: 1.0e-12 } } }`;
        const writeExperiment = (entries: string[]) =>
          writeFileSync(join(root, 'exp.yaml'), `experiment: dln\ntargets:\n  - ${target}\nsamplers:\n${entries.map((e) => `  - ${e}`).join('\n')}\n`);
        writeExperiment(['{ name: hmc }']);
        const probe = await loadExperiment({ root, presets: DEFAULT_PRESETS }, join(root, 'exp.yaml'));
        // λ as llc_runs and the report give it for this target, which must be Aoyagi's λ for the network.
        const truth = closedFormLambda(probe.targets[0].build);
        const aoyagi = aoyagiLambda(net.widths, net.rank).lambda;
        if (truth?.lambda !== aoyagi) throw new Error(`${net.name}: the target's true λ is ${truth?.lambda}, not Aoyagi's ${aoyagi}`);
        const log = () => {};
        const buildStarted = performance.now();
        await buildTargetRule.run(probe.targets[0], { root, log });
        const buildSeconds = (performance.now() - buildStarted) / 1000;
        const built = readTargetArtifact(join(root, 'artifacts', 'targets', probe.targets[0].id));
        const arch = probe.targets[0].build.model;
        const d = layout(arch).d;
        const temp = temperature(probe.runs[0].posterior, n, d);
        const curvature = temp.nBeta * largestCurvature(arch, built.X, built.Y, n, built.params) + temp.gamma;

        writeExperiment(samplers(0.02 / curvature));
        const exp = await loadExperiment({ root, presets: DEFAULT_PRESETS }, join(root, 'exp.yaml'));
        for (const run of exp.runs) {
          const started = performance.now();
          await sampleRule.run(run, { root, log });
          const a = JSON.parse(readFileSync(join(root, 'artifacts', 'runs', run.id, 'analysis.json'), 'utf8'));
          const relError = (a.llc.mean - truth.lambda) / truth.lambda;
          rows.push({ network: net.name, n, sampler: run.sampler, rel_error: relError });
          console.log(
            JSON.stringify({
              bench: 'dln',
              network: net.name,
              widths: net.widths,
              rank: net.rank,
              d,
              n,
              sampler: run.sampler,
              lambda_true: truth.lambda,
              llc: a.llc.mean,
              mcse: a.llc.mcse,
              rel_error: relError,
              error_in_mcse: (a.llc.mean - truth.lambda) / a.llc.mcse,
              status: a.status,
              target_L0: built.meta.L0,
              target_build_s: buildSeconds,
              wall_s: (performance.now() - started) / 1000,
            }),
          );
        }
      } finally {
        rmSync(root, { recursive: true, force: true });
      }
    }
  }

  // Summary: the median relative error across networks, per sampler and n, and its trend.
  const samplerNames = [...new Set(rows.map((r) => r.sampler))];
  for (const sampler of samplerNames)
    for (const n of sizes) {
      const errs = rows.filter((r) => r.sampler === sampler && r.n === n).map((r) => r.rel_error);
      console.log(JSON.stringify({ bench: 'dln', summary: true, sampler, n, median_rel_error: median(errs), median_abs_rel_error: median(errs.map(Math.abs)), networks: errs.length }));
    }
  const pct = (x: number | undefined) => (x === undefined ? '–' : `${x >= 0 ? '+' : ''}${(100 * x).toFixed(1)}%`);
  const lines = [`| network | λ | n | ${samplerNames.join(' | ')} |`, `|---|---|---|${samplerNames.map(() => '---').join('|')}|`];
  for (const net of networks)
    for (const n of sizes)
      lines.push(
        `| ${net.name} | ${aoyagiLambda(net.widths, net.rank).lambda} | ${n.toLocaleString('en')} | ${samplerNames.map((s) => pct(rows.find((r) => r.network === net.name && r.n === n && r.sampler === s)?.rel_error)).join(' | ')} |`,
      );
  console.error(lines.join('\n'));
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
