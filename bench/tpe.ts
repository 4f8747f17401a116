/**
 * TPE against random search on standard minimisation test functions (packages/llc/src/tune/):
 * 50 sequential trials per study, 20 seeds, TPE with Optuna's defaults (10 start-up trials,
 * 24 candidates). Prints one JSON line per (function, sampler) with the median and quartiles over
 * seeds of the best value found, and one summary line per function saying whether TPE's median
 * beats random's.
 *
 *   node -r @swc-node/register bench/tpe.ts
 *
 * Functions (Surjanovic & Bingham, "Virtual Library of Simulation Experiments"):
 *   - branin:     2-D on [−5, 10] × [0, 15], minimum 0.397887 (at three points);
 *   - hartmann6:  6-D on [0, 1]⁶, minimum −3.32237 at (0.20169, 0.150011, 0.476874, 0.275332,
 *                 0.311652, 0.6573);
 *   - mixed:      a sampler-like space defined here: a log-scaled learning rate in [1e-5, 1e-1], an
 *                 int step count in 1000 … 20000 by 1000, and a preconditioner whose choice moves the
 *                 best learning rate and adds a penalty, f = (log₁₀ lr − c_p)² + ((steps − 12000)/8000)²
 *                 + o_p with (c, o) = none (−4, 0.5), rmsprop (−3, 0), adam (−2, 0.25); minimum 0 at
 *                 lr = 1e-3, steps = 12000, precond = rmsprop.
 */
import { SearchSpace } from '../packages/llc/src/tune/space';
import { randomSampler, tpeSampler } from '../packages/llc/src/tune/tpe';
import type { Params } from '../packages/llc/src/tune/space';
import type { Sampler, TrialRecord } from '../packages/llc/src/tune/trial';

const TRIALS = 50;
const SEEDS = 20;

interface Problem {
  name: string;
  space: SearchSpace;
  f: (p: Params) => number;
  optimum: number;
  /** A minimiser, evaluated once to check the transcription of the function against `optimum`. */
  argmin: Params;
}

function branin(x1: number, x2: number): number {
  const b = 5.1 / (4 * Math.PI * Math.PI);
  const c = 5 / Math.PI;
  const t = 1 / (8 * Math.PI);
  return (x2 - b * x1 * x1 + c * x1 - 6) ** 2 + 10 * (1 - t) * Math.cos(x1) + 10;
}

const HARTMANN_ALPHA = [1.0, 1.2, 3.0, 3.2];
const HARTMANN_A = [
  [10, 3, 17, 3.5, 1.7, 8],
  [0.05, 10, 17, 0.1, 8, 14],
  [3, 3.5, 1.7, 10, 17, 8],
  [17, 8, 0.05, 10, 0.1, 14],
];
const HARTMANN_P = [
  [1312, 1696, 5569, 124, 8283, 5886],
  [2329, 4135, 8307, 3736, 1004, 9991],
  [2348, 1451, 3522, 2883, 3047, 6650],
  [4047, 8828, 8732, 5743, 1091, 381],
].map((row) => row.map((v) => v * 1e-4));

function hartmann6(x: readonly number[]): number {
  let sum = 0;
  for (let i = 0; i < 4; i++) {
    let inner = 0;
    for (let j = 0; j < 6; j++) inner += HARTMANN_A[i][j] * (x[j] - HARTMANN_P[i][j]) ** 2;
    sum += HARTMANN_ALPHA[i] * Math.exp(-inner);
  }
  return -sum;
}

const PRECOND: Record<string, { center: number; offset: number }> = {
  none: { center: -4, offset: 0.5 },
  rmsprop: { center: -3, offset: 0 },
  adam: { center: -2, offset: 0.25 },
};

const HARTMANN_DIMS = ['x1', 'x2', 'x3', 'x4', 'x5', 'x6'];

const PROBLEMS: Problem[] = [
  {
    name: 'branin',
    space: SearchSpace.parse({ x1: { type: 'float', low: -5, high: 10 }, x2: { type: 'float', low: 0, high: 15 } }),
    f: (p) => branin(p.x1 as number, p.x2 as number),
    optimum: 0.397887,
    argmin: { x1: Math.PI, x2: 2.275 },
  },
  {
    name: 'hartmann6',
    space: SearchSpace.parse(Object.fromEntries(HARTMANN_DIMS.map((k) => [k, { type: 'float', low: 0, high: 1 }]))),
    f: (p) => hartmann6(HARTMANN_DIMS.map((k) => p[k] as number)),
    optimum: -3.32237,
    argmin: Object.fromEntries(HARTMANN_DIMS.map((k, i) => [k, [0.20169, 0.150011, 0.476874, 0.275332, 0.311652, 0.6573][i]])),
  },
  {
    name: 'mixed',
    space: SearchSpace.parse({
      lr: { type: 'float', low: 1e-5, high: 1e-1, log: true },
      steps: { type: 'int', low: 1000, high: 20000, step: 1000 },
      precond: { type: 'categorical', choices: ['none', 'rmsprop', 'adam'] },
    }),
    f: (p) => {
      const { center, offset } = PRECOND[p.precond as string];
      return (Math.log10(p.lr as number) - center) ** 2 + (((p.steps as number) - 12000) / 8000) ** 2 + offset;
    },
    optimum: 0,
    argmin: { lr: 1e-3, steps: 12000, precond: 'rmsprop' },
  },
];

/** The best value found by one sequential study: ask, evaluate, tell, TRIALS times. */
function bestOfStudy(problem: Problem, sampler: Sampler): number {
  const history: TrialRecord[] = [];
  let best = Infinity;
  for (let trial = 0; trial < TRIALS; trial++) {
    const params = sampler.suggest(problem.space, history, trial);
    const value = problem.f(params);
    history.push({ params, value, state: 'complete' });
    best = Math.min(best, value);
  }
  return best;
}

/** The q-quantile with linear interpolation between order statistics (numpy's default). */
function quantile(values: readonly number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  const position = q * (sorted.length - 1);
  const below = Math.floor(position);
  const above = Math.min(below + 1, sorted.length - 1);
  return sorted[below] + (position - below) * (sorted[above] - sorted[below]);
}

const round = (v: number): number => Number(v.toPrecision(6));

function main(): void {
  for (const problem of PROBLEMS) {
    const atArgmin = problem.f(problem.argmin);
    if (Math.abs(atArgmin - problem.optimum) > 1e-4) throw new Error(`${problem.name}: f(argmin) = ${atArgmin}, expected ${problem.optimum}`);
    const medians: Record<string, number> = {};
    for (const [samplerName, makeSampler] of [
      ['tpe', (seed: number) => tpeSampler({ seed, n_startup_trials: 10, n_ei_candidates: 24 })],
      ['random', (seed: number) => randomSampler({ seed })],
    ] as const) {
      const started = performance.now();
      const bests = Array.from({ length: SEEDS }, (_, seed) => bestOfStudy(problem, makeSampler(seed)));
      medians[samplerName] = quantile(bests, 0.5);
      console.log(
        JSON.stringify({
          function: problem.name,
          sampler: samplerName,
          dims: Object.keys(problem.space).length,
          trials: TRIALS,
          seeds: SEEDS,
          median_best: round(medians[samplerName]),
          q25_best: round(quantile(bests, 0.25)),
          q75_best: round(quantile(bests, 0.75)),
          optimum: problem.optimum,
          seconds: round((performance.now() - started) / 1000),
        }),
      );
    }
    console.log(
      JSON.stringify({
        function: problem.name,
        summary: true,
        tpe_median_best: round(medians.tpe),
        random_median_best: round(medians.random),
        tpe_beats_random: medians.tpe < medians.random,
      }),
    );
  }
}

main();
