/**
 * What the cache key of a computing task says about rounding. Results are bit-identical wherever the
 * kernel's numeric identity (precision, fused multiply-add or not, the build that computes) is the
 * same, and differ in the last bits elsewhere; so a key carries the identity of the kernel the task
 * would use, under the environment of the selected card (whose env may set LAMBDA_HAT_KERNEL), and
 * nothing else about where it runs. The backend hands the same identities to its workers
 * (KEYED_KERNELS_ENV), which refuse to compute with another.
 */
import type { Dtype } from '../packages/llc/src/mlp';
import { kernelIdentityHere, KEYED_KERNELS_ENV } from '../rules/kernel-choice';
import { Card, CardSelection, loadCard } from './cards';

const DTYPES: readonly Dtype[] = ['float32', 'float64'];

/** Kernels cost a probe (a GPU adapter, the BLAS addon) to describe: once per process and environment. */
const described = new Map<string, string | null>();

/** The identity of the kernel for each precision under `env`, where one is available. */
export function kernelIdentities(env: NodeJS.ProcessEnv, dtypes: readonly Dtype[] = DTYPES): Partial<Record<Dtype, string>> {
  const out: Partial<Record<Dtype, string>> = {};
  for (const dtype of dtypes) {
    const key = `${dtype}\0${env.LAMBDA_HAT_KERNEL ?? ''}`;
    if (!described.has(key)) described.set(key, kernelIdentityHere(dtype, env));
    const id = described.get(key);
    if (id) out[dtype] = id;
  }
  return out;
}

/** The environment a card's tasks see, as far as choosing a kernel goes. */
export const cardEnv = (card: Card, env: NodeJS.ProcessEnv = process.env): NodeJS.ProcessEnv => ({ ...env, ...card.env });

/**
 * What a task's key says about each precision under the card the selection names: the kernel's
 * identity, or the kernel asked for when none is available here (then its workers are not held to
 * an identity). With a card that does not load, this process's environment (the task then fails
 * on the card, saying why).
 */
export function keyedIdentities(root: string, selection: CardSelection, dtypes: readonly Dtype[], processEnv: NodeJS.ProcessEnv = process.env): Record<string, string> {
  let env = processEnv;
  try {
    env = cardEnv(loadCard(root, selection, processEnv).card, processEnv);
  } catch {
    // Reported by the executor, which runs nothing then.
  }
  const found = kernelIdentities(env, dtypes);
  return Object.fromEntries(dtypes.map((d) => [`kernel ${d}`, found[d] ?? `LAMBDA_HAT_KERNEL=${env.LAMBDA_HAT_KERNEL || 'auto'}, not available on the machine that made the key`]));
}

/** The card with the identities its workers must compute with (see KEYED_KERNELS_ENV). */
export function withKeyedKernels<C extends Card>(card: C): C {
  return { ...card, env: { ...card.env, [KEYED_KERNELS_ENV]: JSON.stringify(kernelIdentities(cardEnv(card))) } };
}
