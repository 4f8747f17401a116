/**
 * The WebGPU kernel as the samplers see it: a LossKernel whose calls run on the GPU thread
 * (device.ts, worker.ts, gpu-kernel.ts). Its arrays are ordinary typed arrays; each call copies
 * its inputs into memory shared with the GPU thread and its results back, and everything between —
 * the k steps of an SGLD call, the leapfrog steps of an HMC trajectory, the blocks of a full-data
 * pass — stays on the device. float32 only: WGSL has no float64.
 */
import { castTo, Dtype, FloatArray } from '../../mlp';
import { networkTable } from '../network-table';
import type { KernelProblem, LossKernel, NumericIdentity, SgldArrays, SgldStep } from '../types';
import type { AdapterInfo, Gpu } from './device';
import { allocateShared, STEP_WORDS, viewsOf } from './gpu-kernel';

/** Most SGLD steps one submission runs; longer runs are split. */
export const MAX_STEPS = 128;

let nextId = 0;

export function adapterName(a: AdapterInfo): string {
  return [a.vendor, a.architecture, a.device].filter(Boolean).join(' ') || a.description || 'unknown adapter';
}

export function webgpuIdentity(a: AdapterInfo): NumericIdentity {
  // GPU compilers fuse a·b + c wherever WGSL lets them.
  return { kernel: 'webgpu', precision: 'float32', fma: true, implementation: `webgpu ${adapterName(a)}${a.description ? ` (${a.description})` : ''}` };
}

export function webgpuKernel({ arch, X, Y, n, lossFn, dtype, chains, maxBatch }: KernelProblem, device: Extract<Gpu, { ok: true }>): LossKernel {
  if (dtype !== 'float32') throw new Error(`the webgpu kernel computes in float32 only, not ${dtype}`);
  const network = networkTable(arch, lossFn);
  const { d } = network;
  if (chains * d >= 2 ** 31) throw new RangeError(`${chains} chains × ${d} parameters exceed what one GPU kernel indexes`);
  const spec = { ...network, n, chains, maxBatch, maxSteps: MAX_STEPS };
  const shared = allocateShared(spec);
  const view = viewsOf(shared);
  const id = nextId++;
  device.call({ op: 'create', id, spec, shared, X: castTo('float32', X), Y: castTo('float32', Y) });
  const checkBatch = (batch: number) => {
    if (batch > maxBatch) throw new RangeError(`a minibatch of ${batch} rows exceeds the ${maxBatch} this kernel was made for`);
  };

  const kernel: LossKernel = {
    name: 'webgpu-f32',
    identity: webgpuIdentity(device.adapter),
    threads: 1,
    dtype: 'float32' as Dtype,
    d,
    n,
    chains,
    array: (length) => new Float32Array(length),
    loss(positions, out) {
      view.w.set(positions);
      device.call({ op: 'loss', id });
      out.set(view.out);
    },
    lossGrad(positions, rows, batch, grad, out) {
      view.w.set(positions);
      if (rows) {
        checkBatch(batch);
        view.rows.set(rows.subarray(0, chains * batch));
      }
      device.call({ op: 'lossGrad', id, batch: rows ? batch : null });
      grad.set(view.grad);
      out.set(view.out);
    },
    sgldStep(arrays, rows, batch, out, step) {
      kernel.sgldSteps!(arrays, rows, batch, out, [step]);
    },
    sgldSteps(arrays: SgldArrays, rows: Int32Array, batch: number, out: Float64Array, steps: SgldStep[]) {
      checkBatch(batch);
      view.w.set(arrays.w);
      view.m.set(arrays.m);
      view.v.set(arrays.v);
      view.center.set(arrays.center);
      const perStep = chains * batch;
      for (let from = 0; from < steps.length; from += MAX_STEPS) {
        const count = Math.min(MAX_STEPS, steps.length - from);
        view.rows.set(rows.subarray(from * perStep, (from + count) * perStep));
        for (let s = 0; s < count; s++) {
          const x = steps[from + s];
          view.steps.set([x.stepSize, x.nBeta, x.gamma, x.precond, x.beta1, x.beta2, x.eps, x.bias1, x.bias2, x.noiseKey.hi, x.noiseKey.lo, s * perStep], s * STEP_WORDS);
        }
        device.call({ op: 'sgld', id, count, batch });
      }
      (arrays.w as FloatArray).set(view.w);
      arrays.grad.set(view.grad);
      arrays.m.set(view.m);
      arrays.v.set(view.v);
      out.set(view.out);
    },
    leapfrog(state, { invMass, step, steps, nBeta, gamma }) {
      view.w.set(state.q);
      view.p.set(state.p);
      view.grad.set(state.grad);
      view.invMass.set(invMass);
      view.stepSizes.set(step);
      view.center.set(state.center);
      device.call({ op: 'leapfrog', id, steps, nBeta, gamma });
      state.q.set(view.w);
      state.p.set(view.p);
      state.grad.set(view.grad);
      state.loss.set(view.out);
      state.potential.set(view.potential);
    },
    dispose: () => void device.call({ op: 'dispose', id }),
  };
  return kernel;
}
