/**
 * The GPU thread: the one place in the process that talks to Dawn. WebGPU is asynchronous (a result
 * comes back through mapAsync, resolved by this thread's event loop) while LossKernel calls are
 * synchronous, so the samplers' thread posts each call here and blocks on a shared control word
 * (Atomics.wait) until this thread has run it and written the results into shared memory (see
 * device.ts). Calls run one at a time, in the order they were posted.
 *
 * Dawn's objects live as long as the thread: releasing the GPU object while Dawn still works
 * crashes the process, so nothing here is ever released, and the process exits explicitly.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { GpuKernel, GpuKernelSpec, GpuShared } from './gpu-kernel';
import { writeResult } from './protocol';

interface Dawn {
  create(options: string[]): GPU;
  globals: Record<string, unknown>;
}

const control = new Int32Array(workerData.control as SharedArrayBuffer);
const text = new Uint8Array(workerData.text as SharedArrayBuffer);
const kernels = new Map<number, GpuKernel>();
/** Dawn's instance and adapter, referenced for the life of the thread. */
const held: unknown[] = [];
let device: GPUDevice | undefined;
let lost: string | null = null;

type Message =
  | { seq: number; op: 'init' }
  | { seq: number; op: 'create'; id: number; spec: GpuKernelSpec; shared: GpuShared; X: Float32Array; Y: Float32Array }
  | { seq: number; op: 'loss'; id: number }
  | { seq: number; op: 'lossGrad'; id: number; batch: number | null }
  | { seq: number; op: 'sgld'; id: number; count: number; batch: number }
  | { seq: number; op: 'leapfrog'; id: number; steps: number; nBeta: number; gamma: number }
  | { seq: number; op: 'dispose'; id: number };

async function init(): Promise<string> {
  const dawn = require('webgpu') as Dawn;
  Object.assign(globalThis, dawn.globals);
  // Headless Linux has no display for Dawn's OpenGL backend: Vulkan is the route to a GPU there.
  const gpu = dawn.create(process.platform === 'linux' ? ['backend=vulkan'] : []);
  held.push(gpu);
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('Dawn found no WebGPU adapter');
  held.push(adapter);
  const limits = adapter.limits;
  device = await adapter.requestDevice({
    requiredLimits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
    },
  });
  void device.lost.then((info) => {
    lost = `the GPU device was lost: ${info.message}`;
  });
  const info = adapter.info;
  return JSON.stringify({
    vendor: info.vendor,
    architecture: info.architecture,
    device: info.device,
    description: info.description,
    software: info.isFallbackAdapter === true || info.architecture === 'software',
    limits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxBufferSize: limits.maxBufferSize,
      maxComputeWorkgroupStorageSize: limits.maxComputeWorkgroupStorageSize,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      maxComputeWorkgroupsPerDimension: limits.maxComputeWorkgroupsPerDimension,
    },
  });
}

function kernel(id: number): GpuKernel {
  const k = kernels.get(id);
  if (!k) throw new Error(`no GPU kernel ${id}`);
  return k;
}

async function run(m: Message): Promise<string> {
  if (m.op === 'init') return init();
  if (lost) throw new Error(lost);
  if (!device) throw new Error('the GPU thread has no device');
  // Validation errors (a bad binding, a limit exceeded) surface as this call's error, not later.
  device.pushErrorScope('validation');
  device.pushErrorScope('out-of-memory');
  try {
    switch (m.op) {
      case 'create':
        kernels.set(m.id, new GpuKernel(device, m.spec, m.shared, m.X, m.Y));
        break;
      case 'loss':
        await kernel(m.id).loss();
        break;
      case 'lossGrad':
        await kernel(m.id).lossGrad(m.batch);
        break;
      case 'sgld':
        await kernel(m.id).sgld(m.count, m.batch);
        break;
      case 'leapfrog':
        await kernel(m.id).leapfrog(m.steps, m.nBeta, m.gamma);
        break;
      case 'dispose':
        kernel(m.id).destroy();
        kernels.delete(m.id);
        break;
    }
  } finally {
    const errors = [await device.popErrorScope(), await device.popErrorScope()].filter((e): e is GPUError => e !== null);
    if (errors.length) throw new Error(`WebGPU: ${errors.map((e) => e.message).join('; ')}`);
  }
  return '';
}

let queue = Promise.resolve();
parentPort!.on('message', (m: Message) => {
  queue = queue.then(async () => {
    try {
      writeResult(control, text, m.seq, true, await run(m));
    } catch (e) {
      writeResult(control, text, m.seq, false, (e as Error).message ?? String(e));
    }
  });
});
