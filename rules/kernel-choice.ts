import { chooseKernel, KERNEL_REQUESTS, KernelProblem, KernelRequest, KernelUnavailable, LossKernel } from '../packages/llc/src/kernels';
import { describeIdentity } from '../packages/llc/src/kernels/identity';
import type { Dtype } from '../packages/llc/src/mlp';
import { UserError } from './rule';

/**
 * The rounding a task's cache key promised, per precision (JSON of describeIdentity lines), as
 * the machine that computed the key found it (runner/kernel-keys.ts). A worker whose kernel rounds
 * otherwise (a cluster node unlike the login node) stops rather than store its results under a key
 * that claims another rounding.
 */
export const KEYED_KERNELS_ENV = 'LAMBDA_HAT_KEYED_KERNELS';

/**
 * What the kernel for `dtype` would be here, in describeIdentity's words, without making one; null
 * when none is available (the task then fails when it runs, saying why).
 */
export function kernelIdentityHere(dtype: Dtype, env: NodeJS.ProcessEnv = process.env): string | null {
  try {
    return describeIdentity(chooseKernel(kernelSettings(env).request, dtype).entry.identity(dtype));
  } catch (e) {
    if (e instanceof KernelUnavailable || e instanceof UserError) return null;
    throw e;
  }
}

/**
 * The kernel and threads for this worker, from LAMBDA_HAT_KERNEL (auto | webgpu | native | wasm |
 * reference, default auto) and LAMBDA_HAT_THREADS (default 1). The environment, not the task spec, carries
 * them: they are properties of the machine a task runs on.
 */
export function kernelSettings(env: NodeJS.ProcessEnv = process.env): { request: KernelRequest; threads: number } {
  const request = (env.LAMBDA_HAT_KERNEL || 'auto') as KernelRequest;
  if (!KERNEL_REQUESTS.includes(request)) throw new UserError(`LAMBDA_HAT_KERNEL is "${env.LAMBDA_HAT_KERNEL}"; expected one of ${KERNEL_REQUESTS.join(', ')}`);
  const threads = Number(env.LAMBDA_HAT_THREADS ?? 1);
  if (!Number.isInteger(threads) || threads < 1) throw new UserError(`LAMBDA_HAT_THREADS is "${env.LAMBDA_HAT_THREADS}"; expected a whole number of threads, at least 1`);
  return { request, threads };
}

/**
 * Makes the kernel a task computes with and logs, once, which one runs and why any faster one was
 * skipped. A kernel asked for by name that is not available stops the task with the reason.
 */
export function taskKernel(problem: KernelProblem, log: (message: string) => void, env: NodeJS.ProcessEnv = process.env): LossKernel {
  const { request, threads } = kernelSettings(env);
  let decision: ReturnType<typeof chooseKernel>;
  try {
    decision = chooseKernel(request, problem.dtype);
  } catch (e) {
    if (e instanceof KernelUnavailable) throw new UserError(`LAMBDA_HAT_KERNEL=${request}: ${e.message}`);
    throw e;
  }
  const kernel = decision.entry.create(problem, { threads });
  const keyed = (JSON.parse(env[KEYED_KERNELS_ENV] || '{}') as Partial<Record<Dtype, string>>)[problem.dtype];
  const actual = describeIdentity(kernel.identity);
  if (keyed && keyed !== actual) {
    kernel.dispose();
    throw new UserError(
      `this machine computes ${problem.dtype} with ${actual}, but the task's cache key was made for ${keyed} (on the machine that ran nx): ` +
        `its results would be cached as if rounded there. Run nx on a machine like the ones the tasks run on, or set LAMBDA_HAT_KERNEL in the card's env to a kernel both have (wasm or reference)`,
    );
  }
  const skipped = decision.skipped.map((s) => `; ${s.name === request ? 'the' : 'the faster'} ${s.name} kernel was skipped: ${s.reason}`).join('');
  log(`kernel ${kernel.name} (${describeIdentity(kernel.identity)}) on ${kernel.threads} thread${kernel.threads > 1 ? 's' : ''}, LAMBDA_HAT_KERNEL=${request}${skipped}`);
  return kernel;
}
