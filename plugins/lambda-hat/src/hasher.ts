/**
 * The cache key of a lambda-hat task: Nx's own hash of its inputs, minus where it runs, plus the
 * rounding of the kernel it computes with (runner/kernel-keys.ts).
 *
 * Nx hashes the command line's overrides into every task. Ours (--backend, --card, --set) only
 * choose where tasks run, and every backend computes the same bits with the same kernel, so they
 * are dropped: a laptop, a login node and CI share entries. What does change bits is the kernel's
 * numeric identity (precision, fused multiply-add, the build that computes), which no file holds:
 * it enters the key of every task that computes with a kernel (graph.ts lists its precisions in
 * the target's metadata), so a shared cache never serves results rounded otherwise than this
 * machine would round them.
 *
 * Nx runs hashers in its own process, which does not compile TypeScript: hasher.js registers the
 * compiler the workers use and loads this file.
 */
import { CustomHasher, HasherContext, hashArray, workspaceRoot } from '@nx/devkit';
import type { Dtype } from '../../../packages/llc/src/mlp';
import type { CardSelection } from '../../../runner/cards';
import { keyedIdentities } from '../../../runner/kernel-keys';

const lambdaHatHasher: CustomHasher = async (task, context) => {
  const env = (context as HasherContext & { env?: NodeJS.ProcessEnv }).env ?? process.env;
  const base = await context.hasher.hashTask({ ...task, overrides: {} }, context.taskGraph, env);
  const target = context.projectsConfigurations.projects[task.target.project]?.targets?.[task.target.target];
  const precisions = (target?.metadata?.precisions ?? []) as Dtype[];
  if (!precisions.length) return base;
  const kernels = keyedIdentities(workspaceRoot, { ...target?.options, ...task.overrides } as CardSelection, precisions, env);
  return {
    ...base,
    value: hashArray([base.value, ...Object.values(kernels)]),
    details: { ...base.details, runtime: { ...base.details.runtime, ...kernels } },
  };
};

export default lambdaHatHasher;
