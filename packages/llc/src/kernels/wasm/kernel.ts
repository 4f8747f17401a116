/**
 * The WebAssembly SIMD kernel: the MLP passes and the fused SGLD update compiled from ./assembly,
 * in float32 (f32x4) or float64 (f64x2), on a shared memory that worker threads also use.
 *
 * Work is split into items, each a block of rows of one chain: minibatches in blocks of up to 256
 * rows, the full data in blocks of 1024. Each item writes its own mean loss and gradient; a chain
 * with several blocks then combines them, weighted by rows, always in block order. Items are the
 * unit of parallelism, so the result is the same for any number of threads.
 *
 * Memory: the module's static data sits at 64 KiB; this kernel's buffers start at 128 KiB and the
 * memory grows as samplers ask for arrays.
 */
import { readFileSync } from 'node:fs';
import { setFlagsFromString } from 'node:v8';
import { castTo, Dtype, FloatArray, layout, LossFn, MlpArch } from '../../mlp';
import type { KernelProblem, LossKernel, NumericIdentity, SgldArrays, SgldStep } from '../types';
import { wasmBinary, WasmVariant } from './build';
import { instantiate, ThreadPool } from './pool';

const PAGE = 65536;
const HEAP_START = 2 * PAGE;
const MAX_PAGES = 32768;
const MINIBATCH_BLOCK = 256;
const FULL_BLOCK = 1024;
const ITEM_BYTES = 32;
const ACTIVATIONS = { relu: 0, tanh: 1, gelu: 2, identity: 3 } as const;
/** Below this many row·parameter products per call, waking threads costs more than it saves. */
const THREAD_MIN_WORK = 2e6;
/** The most arguments a kernel export takes (sgldStep). */
const MAX_ARGS = 24;

let relaxedSupport: boolean | undefined;

/**
 * Whether this runtime runs relaxed SIMD, detected once per process by validating the relaxed
 * build. V8 shipped relaxed SIMD in 11.4; Node 20's V8 (11.3) has it behind a flag, which is set
 * here at run time so that plain `node` gets the fused multiply-add too.
 */
export function relaxedSimdSupported(): boolean {
  if (relaxedSupport === undefined) {
    const bytes = readFileSync(wasmBinary('relaxed-simd'));
    relaxedSupport = WebAssembly.validate(bytes);
    const [major, minor] = process.versions.v8.split('.').map(Number);
    if (!relaxedSupport && (major < 11 || (major === 11 && minor < 4))) {
      setFlagsFromString('--experimental-wasm-relaxed-simd');
      relaxedSupport = WebAssembly.validate(bytes);
    }
  }
  return relaxedSupport;
}

const modules = new Map<WasmVariant, WebAssembly.Module>();
function moduleFor(variant: WasmVariant): WebAssembly.Module {
  let m = modules.get(variant);
  if (!m) modules.set(variant, (m = new WebAssembly.Module(readFileSync(wasmBinary(variant)))));
  return m;
}

/** A bump allocator over the shared memory; it grows the memory as needed. */
class Heap {
  private top = HEAP_START;
  constructor(readonly memory: WebAssembly.Memory) {}

  alloc(bytes: number): number {
    const at = this.top;
    this.top = Math.ceil((at + bytes) / 16) * 16;
    const pages = Math.ceil(this.top / PAGE);
    const have = this.memory.buffer.byteLength / PAGE;
    if (pages > have) this.memory.grow(pages - have);
    return at;
  }
}

/** Scratch offsets (elements) per thread and the architecture table the WebAssembly side reads. */
function architectureTable(arch: MlpArch, lossFn: LossFn, maxRows: number): { table: Int32Array; extra: Float64Array; scratchElements: number } {
  const { layers } = layout(arch);
  const table = new Int32Array(16 + 16 * layers.length);
  let off = 0;
  const take = (n: number) => {
    const at = off;
    off += Math.ceil(n / 4) * 4;
    return at;
  };
  table[0] = layers.length;
  table[1] = arch.in_dim;
  table[2] = arch.out_dim;
  table[3] = ACTIVATIONS[arch.activation];
  table[4] = lossFn.kind === 'mse' ? 0 : 1;
  table[5] = maxRows;
  table[6] = take(maxRows * arch.in_dim);
  layers.forEach((l, i) => {
    const w = 16 + 16 * i;
    table.set([l.inDim, l.outDim, l.w, l.b, l.lnGain, l.lnBias, l.hidden ? 1 : 0, l.skip ? 1 : 0], w);
    table[w + 8] = take(maxRows * l.outDim);
    table[w + 9] = l.hidden ? take(maxRows * l.outDim) : -1;
    const ln = l.lnGain >= 0;
    table[w + 10] = ln ? take(maxRows * l.outDim) : -1;
    table[w + 11] = ln ? take(maxRows * l.outDim) : -1;
    table[w + 12] = ln ? take(maxRows) : -1;
    table[w + 13] = take(maxRows * l.outDim);
  });
  table[7] = take(maxRows * Math.max(...layers.map((l) => l.outDim)));
  return { table, extra: Float64Array.from([lossFn.df, lossFn.scale]), scratchElements: off };
}

export const wasmIdentity = (variant: WasmVariant, dtype: Dtype): NumericIdentity => ({ kernel: 'wasm', precision: dtype, fma: variant === 'relaxed-simd', implementation: `wasm-${variant}` });

export function wasmKernel(
  { arch, X, Y, n, lossFn, dtype, chains, maxBatch }: KernelProblem,
  threads: number,
  /** The build to use; by default relaxed SIMD when the runtime has it. */
  variant: WasmVariant = relaxedSimdSupported() ? 'relaxed-simd' : 'simd',
): LossKernel {
  const module = moduleFor(variant);
  const S = dtype === 'float32' ? 4 : 8;
  const suffix = dtype === 'float32' ? 'f32' : 'f64';
  const d = layout(arch).d;
  const memory = new WebAssembly.Memory({ initial: HEAP_START / PAGE, maximum: MAX_PAGES, shared: true });
  const heap = new Heap(memory);
  const view = (address: number, length: number): FloatArray =>
    dtype === 'float32' ? new Float32Array(memory.buffer, address, length) : new Float64Array(memory.buffer, address, length);
  const owned = new WeakMap<FloatArray, number>();
  const array = (length: number): FloatArray => {
    const address = heap.alloc(length * S);
    const a = view(address, length);
    a.fill(0);
    owned.set(a, address);
    return a;
  };

  const minibatchBlocks = maxBatch > 0 ? Math.ceil(maxBatch / MINIBATCH_BLOCK) : 0;
  const fullBlocks = Math.ceil(n / FULL_BLOCK);
  const maxRows = Math.max(Math.min(n, FULL_BLOCK), Math.min(maxBatch, MINIBATCH_BLOCK));
  const maxItems = chains * Math.max(fullBlocks, minibatchBlocks);
  const { table, extra, scratchElements } = architectureTable(arch, lossFn, maxRows);

  const archAddress = heap.alloc(table.byteLength);
  new Int32Array(memory.buffer, archAddress, table.length).set(table);
  new Float64Array(memory.buffer, archAddress + 48, 2).set(extra);
  const Xw = array(X.length);
  Xw.set(castTo(dtype, X));
  const Yw = array(Y.length);
  Yw.set(castTo(dtype, Y));
  const rowsAddress = maxBatch > 0 ? heap.alloc(chains * maxBatch * 4) : 0;
  const items = heap.alloc(maxItems * ITEM_BYTES);
  const losses = heap.alloc(maxItems * 8);
  // Per-item gradients, needed only when a chain's work spans several blocks.
  const blockGrads = Math.max(fullBlocks, minibatchBlocks) > 1 ? heap.alloc(maxItems * d * S) : 0;
  // A thread's scratch also holds one chain's noise (d elements) during the SGLD update.
  const scratch = Array.from({ length: threads }, () => heap.alloc(Math.max(scratchElements, d) * S));

  const exports = instantiate(module, memory);
  const names = [`lossGrad_${suffix}`, `loss_${suffix}`, `sgldUpdate_${suffix}`, `sgldStep_${suffix}`];
  const pool = new ThreadPool(module, memory, exports, threads, names, scratch, maxItems * MAX_ARGS);
  const axpy = exports[`axpy_${suffix}`];

  /** The address of an array in the shared memory, copying a foreign one into a staging slot. */
  const staging = new Map<number, FloatArray>();
  const addressOf = (a: FloatArray, slot: number): number => {
    const address = owned.get(a);
    if (address !== undefined) return address;
    let stage = staging.get(slot);
    if (!stage || stage.length < a.length) staging.set(slot, (stage = array(a.length)));
    stage.set(a);
    return owned.get(stage)!;
  };
  const copyBack = (a: FloatArray, address: number) => {
    if (owned.get(a) !== address) a.set(view(address, a.length));
  };

  /** Writes the items of one pass (chain-major, blocks within a chain); returns the blocks per chain. */
  const writeItems = (theta: number, rows: Int32Array | null, batch: number, gradAddress: number): { blocks: number; block: number; total: number } => {
    if (rows && batch > maxBatch) throw new RangeError(`a minibatch of ${batch} rows exceeds the ${maxBatch} this kernel was made for`);
    const total = rows ? batch : n;
    const block = rows ? MINIBATCH_BLOCK : FULL_BLOCK;
    const blocks = Math.ceil(total / block);
    if (rows) new Int32Array(memory.buffer, rowsAddress, rows.length).set(rows);
    const words = new Uint32Array(memory.buffer, items, chains * blocks * (ITEM_BYTES / 4));
    for (let c = 0; c < chains; c++) {
      for (let b = 0; b < blocks; b++) {
        const i = c * blocks + b;
        const start = b * block;
        const count = Math.min(block, total - start);
        const itemGrad = !gradAddress ? 0 : blocks === 1 ? gradAddress + c * d * S : blockGrads + i * d * S;
        words.set([theta + c * d * S, owned.get(Xw)!, owned.get(Yw)!, rows ? rowsAddress + (c * batch + start) * 4 : 0, rows ? 0 : start, count, itemGrad, losses + i * 8], i * 8);
      }
    }
    return { blocks, block, total };
  };

  /** Runs the items of one pass, then combines each chain's blocks in block order. */
  const pass = (fn: string, positions: FloatArray, rows: Int32Array | null, batch: number, grad: FloatArray | null, out: Float64Array) => {
    const theta = addressOf(positions, 0);
    const gradAddress = grad ? addressOf(grad, 1) : 0;
    const { blocks, block, total } = writeItems(theta, rows, batch, gradAddress);
    const tasks = Array.from({ length: chains * blocks }, (_, i) => [archAddress, items + i * ITEM_BYTES, 0]);
    if (threads > 1 && total * d * chains >= THREAD_MIN_WORK) pool.run(fn, tasks, 2);
    else for (const task of tasks) exports[fn](task[0], task[1], scratch[0]);
    const itemLosses = new Float64Array(memory.buffer, losses, chains * blocks);
    for (let c = 0; c < chains; c++) {
      let loss = 0;
      for (let b = 0; b < blocks; b++) loss += (Math.min(block, total - b * block) / total) * itemLosses[c * blocks + b];
      out[c] = loss;
      if (grad && blocks > 1) {
        const dst = gradAddress + c * d * S;
        view(dst, d).fill(0);
        for (let b = 0; b < blocks; b++) axpy(d, Math.min(block, total - b * block) / total, blockGrads + (c * blocks + b) * d * S, dst);
      }
    }
    if (grad) copyBack(grad, gradAddress);
  };

  return {
    name: `wasm-${variant}-${suffix}`,
    identity: wasmIdentity(variant, dtype),
    threads,
    dtype,
    d,
    n,
    chains,
    array,
    loss: (positions, out) => pass(names[1], positions, null, n, null, out),
    lossGrad: (positions, rows, batch, grad, out) => pass(names[0], positions, rows, batch, grad, out),
    sgldStep(a: SgldArrays, rows: Int32Array, batch: number, out: Float64Array, step: SgldStep) {
      const at = [addressOf(a.w, 2), addressOf(a.grad, 3), addressOf(a.m, 4), addressOf(a.v, 5), addressOf(a.center, 6)];
      const common = [step.stepSize, step.nBeta, step.gamma, step.precond, step.beta1, step.beta2, step.eps, step.bias1, step.bias2, step.noiseKey.hi, step.noiseKey.lo];
      const parallel = threads > 1 && batch * d * chains >= THREAD_MIN_WORK;
      if (batch <= MINIBATCH_BLOCK) {
        // One item per chain: gradient and update fused, one task per chain.
        writeItems(at[0], rows, batch, at[1]);
        const tasks = Array.from({ length: chains }, (_, c) => [archAddress, items + c * ITEM_BYTES, 0, ...at, d, c, ...common]);
        if (parallel) pool.run(names[3], tasks, 2);
        else for (const task of tasks) exports[names[3]](...task.slice(0, 2), scratch[0], ...task.slice(3));
        out.set(new Float64Array(memory.buffer, losses, chains));
      } else {
        pass(names[0], a.w, rows, batch, a.grad, out);
        const tasks = Array.from({ length: chains }, (_, c) => [...at, d, c, c + 1, ...common, 0]);
        if (parallel) pool.run(names[2], tasks, tasks[0].length - 1);
        else exports[names[2]](...at, d, 0, chains, ...common, scratch[0]);
      }
      copyBack(a.w, at[0]);
      copyBack(a.grad, at[1]);
      copyBack(a.m, at[2]);
      copyBack(a.v, at[3]);
    },
    dispose: () => pool.dispose(),
  };
}
