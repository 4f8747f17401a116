/**
 * `lambda-hat tune`: run or preview a tuning file (README, "Tuning").
 *
 *   lambda-hat tune --config config/tune/dev.yaml [--set key=value]... [--dry-run]
 *                   [--backend local|slurm-cpu|slurm-gpu] [--card <file>]
 *
 * `--set` edits the tuning file (dotted keys, YAML values: `--set budget.trial_sec=60`) before it is
 * validated; the backend's card is chosen with --backend or --card. `--dry-run` prints the resolved
 * config and the plan (targets, references, the next trials of each study) and runs nothing.
 * Interrupting a tune (Ctrl-C) stops its workers; running it again resumes the study.
 */
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { stringify } from 'yaml';
import { readAnalysis } from '../packages/llc/src/run-artifact';
import { artifactPath } from '../packages/llc/src/artifacts';
import { buildTargetRule } from '../rules/build-target';
import { withInputErrors } from '../rules/cli';
import { DEFAULT_PRESETS } from '../rules/experiment';
import { ProgressDisplay } from '../rules/progress';
import { UserError } from '../rules/rule';
import { sampleRule } from '../rules/sample';
import { loadTuneConfig, TuneConfig } from '../rules/tune/config';
import { isFinished, loadStudy, studyDir, trialsOf } from '../rules/tune/study';
import { selectBackend } from './backends';
import { cardSelectionFromEnv } from './cards';
import { cancelOnSignals } from './tasks';
import { plannedTrials, runTune, tuneSummaryLines } from './tune';

const USAGE = 'usage: lambda-hat tune --config <tune.yaml> [--set key=value]... [--dry-run] [--backend local|slurm-cpu|slurm-gpu] [--card <file>]';

/** The resolved config as a dry run prints it: what every trial and reference will run. */
export function resolvedView(config: TuneConfig): object {
  return {
    tune: config.name,
    file: config.file,
    study: config.study,
    problems: config.problems.map((t) => ({ id: t.id, ...t.build })),
    methods: config.methods,
    posterior: config.posterior,
    references: config.references.map((r) => ({ id: r.id, target: r.target, seed: r.seed, options: r.options })),
    objective: config.objective,
    max_trials_per_method: config.max_trials_per_method,
    batch_size: config.batch_size,
    sampler: config.sampler,
    pruner: config.pruner,
    budget: config.budget,
  };
}

/** What running the tune would do now, in lines. */
export function plan(root: string, config: TuneConfig): string[] {
  const lines = [`plan (study ${studyDir(config)}):`];
  for (const t of config.problems) lines.push(`  target ${t.id}: ${buildTargetRule.verify(t, root) === null ? 'built' : 'to build'}`);
  for (const r of config.references) {
    if (sampleRule.verify(r, root) === null) {
      const a = readAnalysis(join(root, artifactPath.run(r.id)));
      lines.push(`  reference ${r.id} on ${r.target}: cached, λ_ref = ${a.llc.mean.toPrecision(5)} ± ${a.llc.mcse.toPrecision(2)}`);
    } else lines.push(`  reference ${r.id} on ${r.target}: to compute (at most budget.hmc_sec = ${config.budget.hmc_sec} s)`);
  }
  const study = loadStudy(root, config);
  for (const p of config.problems) {
    for (const m of config.methods) {
      const trials = trialsOf(study, p.id, m.sampler);
      const finished = trials.filter(isFinished).length;
      const running = trials.length - finished;
      lines.push(
        `  ${m.sampler} on ${p.id}: ${finished} of ${config.max_trials_per_method} trials finished${running ? `, ${running} left running (to run again)` : ''}; ` +
          `${Math.max(0, config.max_trials_per_method - trials.length)} to ask, ${config.batch_size} at once across all studies, each at most budget.trial_sec = ${config.budget.trial_sec} s`,
      );
    }
  }
  const next = plannedTrials(config, study);
  if (next.length) {
    lines.push(`next trials (${config.sampler.type}, seed ${config.sampler.seed}):`);
    for (const t of next) lines.push(`  ${t.pair} #${t.number}: ${JSON.stringify(t.params)}`);
  }
  return lines;
}

async function tune(argv: string[]): Promise<number> {
  let args;
  try {
    args = parseArgs({
      args: argv,
      options: {
        config: { type: 'string' },
        set: { type: 'string', multiple: true },
        'dry-run': { type: 'boolean' },
        backend: { type: 'string' },
        card: { type: 'string' },
      },
      strict: true,
    }).values;
  } catch (e) {
    throw new UserError(`${(e as Error).message}\n${USAGE}`);
  }
  if (!args.config) throw new UserError(`missing --config\n${USAGE}`);
  const root = resolve(__dirname, '..');
  const config = await loadTuneConfig({ root, presets: DEFAULT_PRESETS }, resolve(args.config), args.set ?? []);
  if (args['dry-run']) {
    console.log(`# ${config.file}, resolved${args.set?.length ? ` with ${args.set.map((s) => `--set ${s}`).join(' ')}` : ''}`);
    console.log(stringify(resolvedView(config), { aliasDuplicateObjects: false }).trimEnd());
    for (const line of plan(root, config)) console.log(line);
    return 0;
  }
  // The flags, else the environment Nx targets read (LAMBDA_HAT_BACKEND, LAMBDA_HAT_CARD, LAMBDA_HAT_SET).
  const env = cardSelectionFromEnv();
  const flags = args.backend !== undefined || args.card !== undefined;
  const backend = selectBackend(root, flags ? { backend: args.backend, card: args.card, from: 'flags' } : env);
  if (!backend) return 2;
  console.log(`tune ${config.name} (${config.file}) on ${backend.name}: study ${config.study}`);
  const stopCancelling = cancelOnSignals(backend);
  const display = new ProgressDisplay(process.stdout);
  let result;
  try {
    result = await runTune({ root, config, backend, display, print: (line, stream) => display.log(line, stream === 'stdout' ? process.stdout : process.stderr) });
  } finally {
    display.close();
    stopCancelling();
  }
  console.log(tuneSummaryLines(root, config, result.study, result.references).join('\n'));
  return 0;
}

/** Entry point from bin/lambda-hat.js: input mistakes print their message alone and exit with 2. */
export function main(argv: string[]): Promise<number> {
  return withInputErrors(() => tune(argv));
}
