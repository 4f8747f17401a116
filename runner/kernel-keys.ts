/**
 * What the cache key of a computing task says about rounding. Results are bit-identical wherever the
 * kernel's numeric identity (precision, fused multiply-add or not, the build that computes) is the
 * same, and differ in the last bits elsewhere; so the key of every training and sampling task
 * carries the identity of the kernel it would use here, under the environment of the card the
 * environment selects (whose `env` may set LAMBDA_HAT_KERNEL), and nothing else about where it
 * runs. Nx gets it from a runtime input of those tasks (plugins/lambda-hat/src/graph.ts):
 *
 *   lambda-hat kernel-key <float32|float64>...    one line per precision
 *
 * which Nx runs once or a few times per command. The backend hands the same identities to its
 * workers (KEYED_KERNELS_ENV), which refuse to compute with another.
 */
import { resolve } from 'node:path';
import type { Dtype } from '../packages/llc/src/mlp';
import { kernelIdentityHere, KEYED_KERNELS_ENV } from '../rules/kernel-choice';
import { INPUT_ERROR_STATUS } from '../rules/rule';
import { Card, cardSelectionFromEnv, loadCard } from './cards';

const DTYPES: readonly Dtype[] = ['float32', 'float64'];

/** The identity of the kernel for each precision under `env`, where one is available. */
export function kernelIdentities(env: NodeJS.ProcessEnv, dtypes: readonly Dtype[] = DTYPES): Partial<Record<Dtype, string>> {
  const out: Partial<Record<Dtype, string>> = {};
  for (const dtype of dtypes) {
    const id = kernelIdentityHere(dtype, env);
    if (id) out[dtype] = id;
  }
  return out;
}

/** The environment a card's tasks see, as far as choosing a kernel goes. */
export const cardEnv = (card: Card, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv => ({ ...env, ...card.env });

/** The card with the identities its workers must compute with (see KEYED_KERNELS_ENV). */
export function withKeyedKernels<C extends Card>(card: C): C {
  return { ...card, env: { ...card.env, [KEYED_KERNELS_ENV]: JSON.stringify(kernelIdentities(cardEnv(card))) } };
}

/**
 * What a key says about each precision: the kernel's identity, or the kernel asked for when none is
 * available here (its workers are then not held to an identity). A card that does not load leaves
 * this process's environment; the task then fails on the card, saying why.
 */
export function keyLines(root: string, dtypes: readonly Dtype[], env: NodeJS.ProcessEnv = process.env): string[] {
  let taskEnv = env;
  try {
    taskEnv = cardEnv(loadCard(root, cardSelectionFromEnv(env)).card, env);
  } catch {
    // Reported by the executor, which runs nothing then.
  }
  const found = kernelIdentities(taskEnv, dtypes);
  return dtypes.map((d) => `${d}: ${found[d] ?? `LAMBDA_HAT_KERNEL=${taskEnv.LAMBDA_HAT_KERNEL || 'auto'}, not available where the key was made`}`);
}

/** `lambda-hat kernel-key <dtype>...` */
export async function main(args: string[]): Promise<number> {
  // Nx runs this for every command that hashes a computing task: it loads the kernels and cards only.
  const bad = args.filter((a) => !(DTYPES as readonly string[]).includes(a));
  if (!args.length || bad.length) {
    console.error(`usage: lambda-hat kernel-key <${DTYPES.join('|')}>...`);
    return INPUT_ERROR_STATUS;
  }
  console.log(keyLines(resolve(__dirname, '..'), args as Dtype[]).join('\n'));
  return 0;
}
