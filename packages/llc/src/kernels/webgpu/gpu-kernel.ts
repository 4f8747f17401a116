/**
 * One problem's WebGPU kernel, on the GPU thread (worker.ts): the network's passes and SGLD's steps
 * as sequences of compute dispatches (./shaders), all chains in each dispatch. Data X and Y,
 * positions, gradients and SGLD's moments live in device buffers; a call uploads what the caller
 * gave, runs its whole sequence in one submission — k SGLD steps, or every block of a full-data
 * pass — and reads back only the results the caller needs.
 *
 * A pass over a block of rows: gather the rows (a minibatch per chain, or a contiguous block of the
 * data), the forward products with bias and activation fused (LayerNorm after, where the layer has
 * it), the loss and its derivative, a fixed-order reduction of the loss, then the backward pass
 * layer by layer (dW and the bias gradient accumulate block after block). Every reduction has a
 * fixed order, so the same inputs give the same bits on the same adapter.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { NetworkTable } from '../network-table';

/** Rows per block of a full-data pass. */
export const BLOCK_ROWS = 2048;
/** Bytes of one step's parameters (shaders' `Step`). */
const STEP_BYTES = 48;
/** Float64 words per step in the shared step table: the SgldStep fields and the rows offset. */
export const STEP_WORDS = 12;

export interface GpuKernelSpec extends NetworkTable {
  n: number;
  chains: number;
  maxBatch: number;
  /** Most SGLD steps one call may run. */
  maxSteps: number;
}

/**
 * Memory the samplers' thread writes a call's inputs to and the GPU thread its results (float32
 * unless marked): positions (`w`), gradients, SGLD's moments and centre; minibatch rows (int32);
 * the SGLD step table (STEP_WORDS float64 per step: stepSize, nBeta, gamma, precond, beta1, beta2,
 * eps, bias1, bias2, keyHi, keyLo, rowsOffset); losses per chain (float64); an HMC trajectory's
 * momenta, inverse masses and step sizes, and its potentials (float64).
 */
const SHARED = {
  w: 'f32', grad: 'f32', m: 'f32', v: 'f32', center: 'f32', rows: 'i32', steps: 'f64', out: 'f64', p: 'f32', invMass: 'f32', stepSizes: 'f32', potential: 'f64',
} as const;
type SharedName = keyof typeof SHARED;
export type GpuShared = Record<SharedName, SharedArrayBuffer>;
export interface GpuViews {
  w: Float32Array;
  grad: Float32Array;
  m: Float32Array;
  v: Float32Array;
  center: Float32Array;
  rows: Int32Array;
  steps: Float64Array;
  out: Float64Array;
  p: Float32Array;
  invMass: Float32Array;
  stepSizes: Float32Array;
  potential: Float64Array;
}

/** The shared memory for a problem with these sizes. */
export function allocateShared(spec: Pick<GpuKernelSpec, 'chains' | 'd' | 'maxBatch' | 'maxSteps'>): GpuShared {
  const { chains, d, maxBatch, maxSteps } = spec;
  const elements: Record<SharedName, number> = {
    w: chains * d, grad: chains * d, m: chains * d, v: chains * d, center: d, rows: maxSteps * chains * maxBatch,
    steps: maxSteps * STEP_WORDS, out: chains, p: chains * d, invMass: chains * d, stepSizes: chains, potential: chains,
  };
  const bytes = { f32: 4, i32: 4, f64: 8 };
  return Object.fromEntries(Object.entries(SHARED).map(([name, type]) => [name, new SharedArrayBuffer(Math.max(8, bytes[type] * elements[name as SharedName]))])) as GpuShared;
}

export function viewsOf(shared: GpuShared): GpuViews {
  const make = { f32: (b: SharedArrayBuffer) => new Float32Array(b), i32: (b: SharedArrayBuffer) => new Int32Array(b), f64: (b: SharedArrayBuffer) => new Float64Array(b) };
  return Object.fromEntries(Object.entries(SHARED).map(([name, type]) => [name, make[type](shared[name as SharedName])])) as unknown as GpuViews;
}

interface Layer {
  in: number;
  out: number;
  w: number;
  b: number;
  lnGain: number;
  lnBias: number;
  hidden: boolean;
  skip: boolean;
}

interface Dispatch {
  pipeline: GPUComputePipeline;
  group: GPUBindGroup;
  size: [number, number, number];
}

type Source = { rows: true } | { rowStart: number };

const ENTRY_POINTS = {
  matmul: ['matmul.wgsl', 'main'],
  gather: ['gather.wgsl', 'main'],
  loss: ['loss.wgsl', 'main'],
  reduce: ['loss.wgsl', 'reduce'],
  activationBackward: ['elementwise.wgsl', 'activationBackward'],
  add: ['elementwise.wgsl', 'add'],
  columnSums: ['elementwise.wgsl', 'columnSums'],
  layerNorm: ['elementwise.wgsl', 'layerNorm'],
  layerNormBackward: ['elementwise.wgsl', 'layerNormBackward'],
  layerNormParams: ['elementwise.wgsl', 'layerNormParams'],
  update: ['sgld.wgsl', 'update'],
  kick: ['hmc.wgsl', 'kick'],
  drift: ['hmc.wgsl', 'drift'],
  combine: ['hmc.wgsl', 'combine'],
  potentialOf: ['hmc.wgsl', 'potentialOf'],
} as const;
type EntryPoint = keyof typeof ENTRY_POINTS;

export const SHADER_DIR = join(__dirname, 'shaders');

const pipelineCache = new WeakMap<GPUDevice, Record<EntryPoint, GPUComputePipeline>>();

function pipelines(device: GPUDevice): Record<EntryPoint, GPUComputePipeline> {
  let p = pipelineCache.get(device);
  if (p) return p;
  const modules = new Map<string, GPUShaderModule>();
  const common = readFileSync(join(SHADER_DIR, 'common.wgsl'), 'utf8');
  const moduleFor = (file: string) => {
    let m = modules.get(file);
    if (!m) modules.set(file, (m = device.createShaderModule({ code: common + readFileSync(join(SHADER_DIR, file), 'utf8') })));
    return m;
  };
  p = Object.fromEntries(
    Object.entries(ENTRY_POINTS).map(([name, [file, entryPoint]]) => [name, device.createComputePipeline({ layout: 'auto', compute: { module: moduleFor(file), entryPoint } })]),
  ) as Record<EntryPoint, GPUComputePipeline>;
  pipelineCache.set(device, p);
  return p;
}

/** A uniform block of 32-bit words: numbers are u32 unless listed in `floats`, or i32 when negative. */
function words(values: number[], floats: number[] = []): ArrayBuffer {
  const padded = Math.ceil(values.length / 4) * 4;
  const view = new DataView(new ArrayBuffer(padded * 4));
  values.forEach((x, i) => {
    if (floats.includes(i)) view.setFloat32(4 * i, x, true);
    else if (x < 0) view.setInt32(4 * i, x, true);
    else view.setUint32(4 * i, x, true);
  });
  return view.buffer;
}

const ceil = (a: number, b: number) => Math.ceil(a / b);

/** A grid of 256-thread workgroups covering `elements`, two-dimensional past 65,535 workgroups. */
function grid(elements: number): [number, number, number] {
  const groups = Math.max(1, ceil(elements, 256));
  const x = Math.min(groups, 65535);
  return [x, ceil(groups, x), 1];
}

export class GpuKernel {
  private readonly p: Record<EntryPoint, GPUComputePipeline>;
  private readonly layers: Layer[];
  private readonly maxRows: number;
  private readonly buffers = new Map<string, GPUBuffer>();
  private readonly ids = new WeakMap<GPUBuffer, number>();
  private readonly uniforms = new Map<string, GPUBuffer>();
  private readonly groups = new Map<string, GPUBindGroup>();
  private readonly views: GpuViews;

  constructor(
    private readonly device: GPUDevice,
    private readonly spec: GpuKernelSpec,
    shared: GpuShared,
    X: Float32Array,
    Y: Float32Array,
  ) {
    this.p = pipelines(device);
    const { chains, d, n, maxBatch, maxSteps, inDim, outDim } = spec;
    this.layers = [];
    for (let i = 0; i < spec.layers.length; i += 8) {
      const t = spec.layers;
      this.layers.push({ in: t[i], out: t[i + 1], w: t[i + 2], b: t[i + 3], lnGain: t[i + 4], lnBias: t[i + 5], hidden: t[i + 6] === 1, skip: t[i + 7] === 1 });
    }
    this.maxRows = Math.min(BLOCK_ROWS, Math.max(n, maxBatch));
    this.views = viewsOf(shared);
    const rows = this.maxRows;
    const widest = Math.max(inDim, ...this.layers.map((l) => l.out));
    const f32 = (count: number) => 4 * count;
    this.buffer('theta', f32(chains * d));
    this.buffer('grad', f32(chains * d));
    this.buffer('m', f32(chains * d));
    this.buffer('v', f32(chains * d));
    this.buffer('center', f32(d));
    this.buffer('X', f32(n * inDim));
    this.buffer('Y', f32(n * outDim));
    this.buffer('rows', 4 * Math.max(1, maxSteps * chains * maxBatch));
    this.buffer('steps', STEP_BYTES * maxSteps);
    this.buffer('step', STEP_BYTES, GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST);
    this.buffer('H0', f32(chains * rows * inDim));
    this.buffer('Yb', f32(chains * rows * outDim));
    this.buffer('gPre', f32(chains * rows * widest));
    this.buffer('partial', f32(chains * ceil(rows * outDim, 256)));
    this.buffer('total', f32(chains));
    this.buffer('p', f32(chains * d));
    this.buffer('invMass', f32(chains * d));
    this.buffer('stepSizes', f32(chains));
    this.buffer('potential', f32(chains));
    this.buffer('unused', 16);
    this.layers.forEach((l, i) => {
      const size = f32(chains * rows * l.out);
      this.buffer(`pre${i}`, size);
      this.buffer(`gradOut${i}`, size);
      if (l.hidden) this.buffer(`post${i}`, size);
      if (l.lnGain >= 0) {
        this.buffer(`act${i}`, size);
        this.buffer(`xhat${i}`, size);
        this.buffer(`rstd${i}`, f32(chains * rows));
      }
    });
    for (const name of ['theta', 'grad', 'm', 'v', 'total', 'p', 'potential']) this.buffer(`read-${name}`, this.get(name).size, GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    device.queue.writeBuffer(this.get('X'), 0, X);
    device.queue.writeBuffer(this.get('Y'), 0, Y);
  }

  private buffer(name: string, bytes: number, usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST): void {
    const b = this.device.createBuffer({ size: Math.max(16, Math.ceil(bytes / 16) * 16), usage });
    this.ids.set(b, this.buffers.size);
    this.buffers.set(name, b);
  }

  private get(name: string): GPUBuffer {
    const b = this.buffers.get(name);
    if (!b) throw new Error(`no GPU buffer ${name}`);
    return b;
  }

  private uniform(data: ArrayBuffer): GPUBuffer {
    const key = Buffer.from(data).toString('hex');
    let u = this.uniforms.get(key);
    if (!u) {
      u = this.device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
      this.device.queue.writeBuffer(u, 0, data);
      this.uniforms.set(key, u);
    }
    return u;
  }

  /** A dispatch of `entry` with its params (binding 0) and named buffers at the other bindings. */
  private dispatch(entry: EntryPoint, params: ArrayBuffer, bindings: [number, string][], size: [number, number, number]): Dispatch {
    const u = this.uniform(params);
    const key = `${entry}|${Buffer.from(params).toString('hex')}|${bindings.map(([b, name]) => `${b}:${name}`).join(',')}`;
    let group = this.groups.get(key);
    if (!group) {
      const pipeline = this.p[entry];
      group = this.device.createBindGroup({
        layout: pipeline.getBindGroupLayout(0),
        entries: [{ binding: 0, resource: { buffer: u } }, ...bindings.map(([binding, name]) => ({ binding, resource: { buffer: this.get(name) } }))],
      });
      this.groups.set(key, group);
    }
    return { pipeline: this.p[entry], group, size };
  }

  private matmul(
    o: { M: number; N: number; K: number; accumulate: boolean; bias: number; epilogue: boolean; skip: boolean },
    a: [string, number, number, number, number],
    b: [string, number, number, number, number],
    c: [string, number, number],
    out2: string,
  ): Dispatch {
    const params = words([
      o.M, o.N, o.K, o.accumulate ? 1 : 0,
      a[1], a[2], a[3], a[4],
      b[1], b[2], b[3], b[4],
      c[1], c[2], o.bias, o.epilogue ? 1 : 0,
      this.spec.activation, o.skip ? 1 : 0, 0, 0,
    ]);
    return this.dispatch('matmul', params, [[1, a[0]], [2, b[0]], [3, c[0]], [4, out2]], [ceil(o.N, 64), ceil(o.M, 64), this.spec.chains]);
  }

  private elementwise(entry: EntryPoint, rows: number, width: number, extra: { accumulate?: boolean; paramOff?: number; paramOff2?: number; skip?: boolean }, bindings: [number, string][], size: [number, number, number]): Dispatch {
    const { chains, d, activation } = this.spec;
    const params = words([rows, width, chains, d, activation, extra.accumulate ? 1 : 0, extra.paramOff ?? 0, extra.paramOff2 ?? 0, extra.skip ? 1 : 0, 0, 0, 0]);
    return this.dispatch(entry, params, bindings, size);
  }

  /**
   * One block: `count` rows from `source`, the loss summed into `total` (added to it unless
   * `first`), and with `gradient` the gradient of (sum of losses)/divisor into `grad` (likewise).
   */
  private block(count: number, source: Source, first: boolean, gradient: boolean, divisor: number): Dispatch[] {
    const { chains, d, inDim, outDim } = this.spec;
    const list: Dispatch[] = [];
    const rowStart = 'rowStart' in source ? source.rowStart : 0;
    list.push(
      this.dispatch('gather', words([count, inDim, outDim, chains, rowStart, 'rows' in source ? 1 : 0, 0, 0]), [[1, 'step'], [2, 'X'], [3, 'Y'], [4, 'rows'], [5, 'H0'], [6, 'Yb']], [
        ceil(count, 64),
        chains,
        1,
      ]),
    );
    // Forward: h is the current layer's input, as [buffer, width].
    let h = 'H0';
    this.layers.forEach((l, i) => {
      const ln = l.lnGain >= 0;
      const out2 = !l.hidden ? 'unused' : ln ? `act${i}` : `post${i}`;
      list.push(
        this.matmul(
          { M: count, N: l.out, K: l.in, accumulate: false, bias: l.b, epilogue: l.hidden, skip: l.hidden && !ln && l.skip },
          [h, 0, count * l.in, l.in, 1],
          ['theta', l.w, d, 1, l.in],
          [`pre${i}`, 0, count * l.out],
          out2,
        ),
      );
      if (ln)
        list.push(
          this.elementwise('layerNorm', count, l.out, { paramOff: l.lnGain, paramOff2: l.lnBias, skip: l.skip }, [[7, 'theta'], [8, `act${i}`], [9, `xhat${i}`], [10, `rstd${i}`], [11, `post${i}`], [12, h]], [
            ceil(count, 64),
            chains,
            1,
          ]),
        );
      h = l.hidden ? `post${i}` : `pre${i}`;
    });
    const last = this.layers.length - 1;
    const elements = count * outDim;
    const groups = ceil(elements, 256);
    const lossParams = words([elements, chains, this.spec.loss, gradient ? 1 : 0, this.spec.df, this.spec.scale, divisor, groups, 0, 0, 0, first ? 0 : 1], [4, 5, 6]);
    list.push(this.dispatch('loss', lossParams, [[1, `pre${last}`], [2, 'Yb'], [3, `gradOut${last}`], [4, 'partial']], [groups, chains, 1]));
    list.push(this.dispatch('reduce', lossParams, [[4, 'partial'], [5, 'total']], [ceil(chains, 64), 1, 1]));
    if (!gradient) return list;
    for (let i = last; i >= 0; i--) {
      const l = this.layers[i];
      const gOut = `gradOut${i}`;
      const hIn = i === 0 ? 'H0' : `post${i - 1}`;
      let g = gOut;
      if (l.hidden) {
        if (l.lnGain >= 0) {
          const lnBindings: [number, string][] = [[7, 'theta'], [13, gOut], [14, `xhat${i}`], [15, `rstd${i}`], [16, 'gPre']];
          list.push(this.elementwise('layerNormBackward', count, l.out, { paramOff: l.lnGain }, lnBindings, [ceil(count, 64), chains, 1]));
          list.push(
            this.elementwise('layerNormParams', count, l.out, { paramOff: l.lnGain, paramOff2: l.lnBias, accumulate: !first }, [[13, gOut], [14, `xhat${i}`], [6, 'grad']], [ceil(l.out, 64), chains, 1]),
          );
        } else {
          list.push(this.elementwise('add', count, l.out, {}, [[3, gOut], [4, 'gPre']], grid(chains * count * l.out)));
        }
        list.push(this.elementwise('activationBackward', count, l.out, {}, [[1, `pre${i}`], [2, 'gPre']], grid(chains * count * l.out)));
        g = 'gPre';
      }
      // dW (+)= Gᵀ·H, written straight into the gradient (W is out × in, row-major).
      list.push(
        this.matmul(
          { M: l.out, N: l.in, K: count, accumulate: !first, bias: -1, epilogue: false, skip: false },
          [g, 0, count * l.out, 1, l.out],
          [hIn, 0, count * l.in, l.in, 1],
          ['grad', l.w, d],
          'unused',
        ),
      );
      if (l.b >= 0) list.push(this.elementwise('columnSums', count, l.out, { paramOff: l.b, accumulate: !first }, [[5, g], [6, 'grad']], [ceil(l.out, 64), chains, 1]));
      if (i > 0) {
        // dH = G·W, the gradient with respect to the previous layer's output.
        list.push(
          this.matmul(
            { M: count, N: l.in, K: l.out, accumulate: false, bias: -1, epilogue: false, skip: false },
            [g, 0, count * l.out, l.out, 1],
            ['theta', l.w, d, l.in, 1],
            [`gradOut${i - 1}`, 0, count * l.in],
            'unused',
          ),
        );
        if (l.skip) list.push(this.elementwise('add', count, l.in, { accumulate: true }, [[3, gOut], [4, `gradOut${i - 1}`]], grid(chains * count * l.in)));
      }
    }
    return list;
  }

  /** The blocks of a full-data pass. */
  private fullData(gradient: boolean): Dispatch[] {
    const { n, outDim } = this.spec;
    const list: Dispatch[] = [];
    for (let start = 0; start < n; start += this.maxRows) list.push(...this.block(Math.min(this.maxRows, n - start), { rowStart: start }, start === 0, gradient, n * outDim));
    return list;
  }

  private encode(encoder: GPUCommandEncoder, list: Dispatch[]): void {
    const pass = encoder.beginComputePass();
    for (const { pipeline, group, size } of list) {
      pass.setPipeline(pipeline);
      pass.setBindGroup(0, group);
      pass.dispatchWorkgroups(...size);
    }
    pass.end();
  }

  /** A step table entry with no minibatch offset and no update: what a pass outside SGLD reads. */
  private noStep(): void {
    this.device.queue.writeBuffer(this.get('step'), 0, new ArrayBuffer(STEP_BYTES));
  }

  /** Submits, copies the named buffers back and returns their contents. */
  private async finish(encoder: GPUCommandEncoder, names: string[]): Promise<Float32Array[]> {
    for (const name of names) encoder.copyBufferToBuffer(this.get(name), 0, this.get(`read-${name}`), 0, this.get(name).size);
    this.device.queue.submit([encoder.finish()]);
    const reads = names.map((name) => this.get(`read-${name}`));
    await Promise.all(reads.map((r) => r.mapAsync(GPUMapMode.READ)));
    return reads.map((r) => {
      const copy = new Float32Array(r.getMappedRange().slice(0));
      r.unmap();
      return copy;
    });
  }

  /** Dawn cannot read shared memory: uploads go through a private copy. */
  private upload(name: string, view: Float32Array | Int32Array, count = view.length): void {
    this.device.queue.writeBuffer(this.get(name), 0, view.slice(0, count));
  }

  private setOut(total: Float32Array, elements: number): void {
    for (let c = 0; c < this.spec.chains; c++) this.views.out[c] = total[c] / elements;
  }

  async loss(): Promise<void> {
    this.upload('theta', this.views.w);
    this.noStep();
    const encoder = this.device.createCommandEncoder();
    this.encode(encoder, this.fullData(false));
    const [total] = await this.finish(encoder, ['total']);
    this.setOut(total, this.spec.n * this.spec.outDim);
  }

  async lossGrad(batch: number | null): Promise<void> {
    const { chains, d, outDim, n } = this.spec;
    this.upload('theta', this.views.w);
    this.noStep();
    const encoder = this.device.createCommandEncoder();
    if (batch === null) this.encode(encoder, this.fullData(true));
    else {
      this.upload('rows', this.views.rows, chains * batch);
      this.encode(encoder, this.block(batch, { rows: true }, true, true, batch * outDim));
    }
    const [total, grad] = await this.finish(encoder, ['total', 'grad']);
    this.views.grad.set(grad.subarray(0, chains * d));
    this.setOut(total, (batch ?? n) * outDim);
  }

  /** `count` SGLD steps of every chain, each a minibatch pass and the update, in one submission. */
  async sgld(count: number, batch: number): Promise<void> {
    const { chains, d, outDim } = this.spec;
    this.upload('theta', this.views.w);
    this.upload('m', this.views.m);
    this.upload('v', this.views.v);
    this.upload('center', this.views.center);
    this.upload('rows', this.views.rows, count * chains * batch);
    const table = new DataView(new ArrayBuffer(count * STEP_BYTES));
    for (let s = 0; s < count; s++) {
      const x = this.views.steps.subarray(s * STEP_WORDS, (s + 1) * STEP_WORDS);
      const at = s * STEP_BYTES;
      table.setUint32(at, x[11], true);
      table.setUint32(at + 4, x[9], true);
      table.setUint32(at + 8, x[10], true);
      table.setUint32(at + 12, x[3], true);
      [x[0], x[1], x[2], x[4], x[5], x[6], x[7], x[8]].forEach((value, k) => table.setFloat32(at + 16 + 4 * k, value, true));
    }
    this.device.queue.writeBuffer(this.get('steps'), 0, table.buffer);
    const step = [
      ...this.block(batch, { rows: true }, true, true, batch * outDim),
      this.dispatch('update', words([d, chains, 0, 0]), [[1, 'step'], [2, 'theta'], [3, 'grad'], [4, 'm'], [5, 'v'], [6, 'center']], grid(chains * d)),
    ];
    const encoder = this.device.createCommandEncoder();
    for (let s = 0; s < count; s++) {
      encoder.copyBufferToBuffer(this.get('steps'), s * STEP_BYTES, this.get('step'), 0, STEP_BYTES);
      this.encode(encoder, step);
    }
    const [theta, grad, m, v, total] = await this.finish(encoder, ['theta', 'grad', 'm', 'v', 'total']);
    const size = chains * d;
    this.views.w.set(theta.subarray(0, size));
    this.views.grad.set(grad.subarray(0, size));
    this.views.m.set(m.subarray(0, size));
    this.views.v.set(v.subarray(0, size));
    this.setOut(total, batch * outDim);
  }

  /** `steps` leapfrog steps of every chain in one submission (Posterior.leapfrog). */
  async leapfrog(steps: number, nBeta: number, gamma: number): Promise<void> {
    const { chains, d, n, outDim } = this.spec;
    this.upload('theta', this.views.w);
    this.upload('p', this.views.p);
    this.upload('grad', this.views.grad);
    this.upload('invMass', this.views.invMass);
    this.upload('stepSizes', this.views.stepSizes);
    this.upload('center', this.views.center);
    this.noStep();
    const params = words([d, chains, nBeta, gamma, n * outDim, 0, 0, 0], [2, 3, 4]);
    const elementwise = (entry: EntryPoint, bindings: [number, string][]) => this.dispatch(entry, params, bindings, grid(chains * d));
    const kick = elementwise('kick', [[2, 'p'], [3, 'grad'], [5, 'stepSizes']]);
    const step = [
      kick,
      elementwise('drift', [[1, 'theta'], [2, 'p'], [4, 'invMass'], [5, 'stepSizes']]),
      ...this.fullData(true),
      elementwise('combine', [[1, 'theta'], [3, 'grad'], [6, 'center']]),
      this.dispatch('potentialOf', params, [[1, 'theta'], [6, 'center'], [7, 'total'], [8, 'potential']], [chains, 1, 1]),
      kick,
    ];
    const encoder = this.device.createCommandEncoder();
    for (let s = 0; s < steps; s++) this.encode(encoder, step);
    const [theta, p, grad, total, potential] = await this.finish(encoder, ['theta', 'p', 'grad', 'total', 'potential']);
    const size = chains * d;
    this.views.w.set(theta.subarray(0, size));
    this.views.p.set(p.subarray(0, size));
    this.views.grad.set(grad.subarray(0, size));
    this.views.potential.set(potential.subarray(0, chains));
    this.setOut(total, n * outDim);
  }

  destroy(): void {
    for (const b of [...this.buffers.values(), ...this.uniforms.values()]) b.destroy();
  }
}
