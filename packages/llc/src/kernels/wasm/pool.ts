/**
 * Threads for the WebAssembly kernels: worker threads that instantiate the same module on the same
 * shared memory. A job is one exported function and a list of tasks (argument vectors); thread t
 * runs tasks t, t + T, t + 2T, … and the calling thread takes its own share. Which thread runs a
 * task never changes what the task computes, and results are combined in a fixed order after the
 * job, so results do not depend on the number of threads.
 *
 * Synchronisation is a generation counter in a shared Int32Array: the caller writes the job, bumps
 * the generation and notifies; each worker runs its share and counts itself done.
 */
import { Worker } from 'node:worker_threads';
import { workerSource } from '../worker-source';

const CTRL = { generation: 0, done: 1, fn: 2, tasks: 3, argsPerTask: 4, scratchArg: 5, failed: 6, stop: 7, ready: 8 } as const;
const CTRL_WORDS = 9;
const WORKER_START_MS = 60_000;

/** u64 parameters take BigInt arguments; everything else numbers. */
export type WasmExports = Record<string, (...args: (number | bigint)[]) => unknown>;

export interface PoolShared {
  ctrl: SharedArrayBuffer;
  args: SharedArrayBuffer;
  names: string[];
  scratch: number[];
}

export function instantiate(module: WebAssembly.Module, memory: WebAssembly.Memory): WasmExports {
  const abort = () => {
    throw new Error('WebAssembly kernel aborted');
  };
  return new WebAssembly.Instance(module, { env: { memory, abort, seed: () => 0 } }).exports as unknown as WasmExports;
}

/** Runs this thread's share of the current job. */
export function runShare(exports: WasmExports, shared: PoolShared, thread: number, threads: number): void {
  const ctrl = new Int32Array(shared.ctrl);
  const args = new Float64Array(shared.args);
  const fn = exports[shared.names[ctrl[CTRL.fn]]];
  const count = ctrl[CTRL.tasks];
  const width = ctrl[CTRL.argsPerTask];
  const scratchArg = ctrl[CTRL.scratchArg];
  const call: number[] = new Array(width);
  for (let t = thread; t < count; t += threads) {
    for (let a = 0; a < width; a++) call[a] = args[t * width + a];
    if (scratchArg >= 0) call[scratchArg] = shared.scratch[thread];
    fn(...call);
  }
}

/** The loop a worker thread runs (see worker.ts). */
export function serve(module: WebAssembly.Module, memory: WebAssembly.Memory, shared: PoolShared, thread: number, threads: number): void {
  const exports = instantiate(module, memory);
  const ctrl = new Int32Array(shared.ctrl);
  Atomics.add(ctrl, CTRL.ready, 1);
  Atomics.notify(ctrl, CTRL.ready);
  let seen = 0;
  for (;;) {
    Atomics.wait(ctrl, CTRL.generation, seen);
    seen = Atomics.load(ctrl, CTRL.generation);
    if (Atomics.load(ctrl, CTRL.stop)) return;
    try {
      runShare(exports, shared, thread, threads);
    } catch {
      Atomics.store(ctrl, CTRL.failed, 1);
    }
    Atomics.add(ctrl, CTRL.done, 1);
    Atomics.notify(ctrl, CTRL.done);
  }
}

export class ThreadPool {
  private readonly workers: Worker[] = [];
  private readonly shared: PoolShared;
  private readonly ctrl: Int32Array;
  private readonly args: Float64Array;

  constructor(
    module: WebAssembly.Module,
    memory: WebAssembly.Memory,
    private readonly exports: WasmExports,
    readonly threads: number,
    names: string[],
    scratch: number[],
    maxArgs: number,
  ) {
    this.shared = { ctrl: new SharedArrayBuffer(CTRL_WORDS * 4), args: new SharedArrayBuffer(maxArgs * 8), names, scratch };
    this.ctrl = new Int32Array(this.shared.ctrl);
    this.args = new Float64Array(this.shared.args);
    const source = workerSource(__dirname, 'worker', __filename);
    for (let t = 1; t < threads; t++) {
      const worker = new Worker(source, {
        eval: true,
        workerData: { module, memory, shared: this.shared, thread: t, threads },
      });
      // Idle workers must not keep the process alive.
      worker.unref();
      this.workers.push(worker);
    }
    // Wait for every worker to have its module instantiated, so start-up never counts as work.
    const ctrl = this.ctrl;
    const deadline = Date.now() + WORKER_START_MS;
    for (let ready = Atomics.load(ctrl, CTRL.ready); ready < threads - 1; ready = Atomics.load(ctrl, CTRL.ready)) {
      if (Date.now() > deadline) {
        this.dispose();
        throw new Error(`only ${ready} of ${threads - 1} WebAssembly kernel threads started within ${WORKER_START_MS / 1000} s`);
      }
      Atomics.wait(ctrl, CTRL.ready, ready, 1000);
    }
  }

  /**
   * Runs `fn` over the tasks (argument vectors of equal length) on every thread and returns when all
   * are done. The argument at `scratchArg` (if ≥ 0) is replaced by the running thread's scratch address.
   */
  run(fn: string, tasks: number[][], scratchArg = -1): void {
    if (tasks.length === 0) return;
    const width = tasks[0].length;
    if (tasks.length * width > this.args.length) throw new RangeError(`${tasks.length} tasks of ${width} arguments exceed the pool's argument space`);
    tasks.forEach((task, t) => this.args.set(task, t * width));
    const ctrl = this.ctrl;
    ctrl[CTRL.fn] = this.shared.names.indexOf(fn);
    ctrl[CTRL.tasks] = tasks.length;
    ctrl[CTRL.argsPerTask] = width;
    ctrl[CTRL.scratchArg] = scratchArg;
    Atomics.store(ctrl, CTRL.done, 0);
    Atomics.add(ctrl, CTRL.generation, 1);
    Atomics.notify(ctrl, CTRL.generation);
    runShare(this.exports, this.shared, 0, this.threads);
    for (let done = Atomics.load(ctrl, CTRL.done); done < this.threads - 1; done = Atomics.load(ctrl, CTRL.done)) Atomics.wait(ctrl, CTRL.done, done);
    if (Atomics.load(ctrl, CTRL.failed)) throw new Error(`a WebAssembly kernel thread failed while running ${fn}`);
  }

  dispose(): void {
    Atomics.store(this.ctrl, CTRL.stop, 1);
    Atomics.add(this.ctrl, CTRL.generation, 1);
    Atomics.notify(this.ctrl, CTRL.generation);
    for (const w of this.workers) void w.terminate();
  }
}
