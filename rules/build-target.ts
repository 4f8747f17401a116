/** Stage A: train one target and write its artifact (docs/mathematics.md). */
import { join } from 'node:path';
import { artifactPath, TARGET_FILES, writeTargetArtifact } from '../packages/llc/src/artifacts';
import { layout } from '../packages/llc/src/mlp';
import { kernelSourceFiles } from '../packages/llc/src/kernels';
import { buildTarget } from '../packages/llc/src/target';
import { taskKernel } from './kernel-choice';
import type { TargetSpec } from './experiment';
import { checkFiles, Rule, UserError } from './rule';
import { versions } from './versions';

export const buildTargetRule: Rule<TargetSpec> = {
  name: 'build-target',
  codeEntryPoints: () => [__filename, ...kernelSourceFiles()],
  outputs: (spec) => TARGET_FILES.map((f) => join(artifactPath.target(spec.id), f)),
  verify: (spec, root) => checkFiles(root, artifactPath.target(spec.id), ['meta.json', 'params.npy', 'X.npy', 'Y.npy']),
  // Training runs in float64 (packages/llc/src/target.ts).
  precisions: () => ['float64'],

  async run(spec, ctx) {
    const started = performance.now();
    const { build } = spec;
    const lay = layout(build.model);
    ctx.log(`training ${spec.id}: d = ${lay.d}, n = ${build.data.n_data}, up to ${build.training.steps} steps`);
    const progress = ctx.progress;
    const report = (done: number, total: number, loss: number) => progress?.({ phase: 'training', done, total, unit: 'steps', metric: { name: 'loss', value: loss } });
    const built = buildTarget(build, (problem) => taskKernel(problem, ctx.log), progress && ((step, loss) => report(step + 1, build.training.steps, loss)));
    const steps = built.losses.length;
    if (!Number.isFinite(built.L0)) {
      const firstBad = built.losses.findIndex((l) => !Number.isFinite(l));
      throw new UserError(
        `training diverged: the loss is ${built.L0} after ${steps} steps${firstBad >= 0 ? ` (first non-finite at step ${firstBad + 1})` : ''}; lower training.learning_rate`,
      );
    }
    // An early stop completes training short of its planned steps.
    if (built.stoppedEarly) report(steps, steps, built.losses[steps - 1]);
    ctx.log(`trained in ${steps} steps${built.stoppedEarly ? ' (early stop)' : ''}: L0 = ${built.L0.toExponential(6)}`);
    await writeTargetArtifact(join(ctx.root, artifactPath.target(spec.id)), built, {
      target_id: spec.id,
      build,
      layout: lay.entries,
      dims: { n: build.data.n_data, n_test: build.data.n_test, in_dim: build.model.in_dim, out_dim: build.model.out_dim, d: lay.d },
      L0: built.L0,
      kernel: built.kernel,
      kernel_identity: built.kernelIdentity,
      metrics: built.metrics,
      training: { steps_run: steps, stopped_early: built.stoppedEarly, initial_loss: built.losses[0], final_loss: built.losses[steps - 1] },
      versions: versions(),
      wall_time_s: (performance.now() - started) / 1000,
    });
  },
};
