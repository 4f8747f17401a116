import { KERNEL_BACKENDS, KernelBackend, KernelChoice } from '../packages/llc/src/kernels';
import { UserError } from './rule';

/**
 * The kernel backend and threads for this worker, from LAMBDA_HAT_KERNEL (wasm | reference,
 * default wasm) and LAMBDA_HAT_THREADS (default 1). The environment, not the task spec, carries
 * them: they decide how fast a task runs, never what it computes, so they stay out of cache keys.
 */
export function kernelChoice(env: NodeJS.ProcessEnv = process.env): KernelChoice {
  const backend = (env.LAMBDA_HAT_KERNEL ?? 'wasm') as KernelBackend;
  if (!KERNEL_BACKENDS.includes(backend)) throw new UserError(`LAMBDA_HAT_KERNEL is "${env.LAMBDA_HAT_KERNEL}"; expected one of ${KERNEL_BACKENDS.join(', ')}`);
  const threads = Number(env.LAMBDA_HAT_THREADS ?? 1);
  if (!Number.isInteger(threads) || threads < 1) throw new UserError(`LAMBDA_HAT_THREADS is "${env.LAMBDA_HAT_THREADS}"; expected a whole number of threads, at least 1`);
  return { backend, threads };
}
