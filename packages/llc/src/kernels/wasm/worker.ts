/** A kernel thread: serves jobs on the shared WebAssembly memory until the pool stops (see pool.ts). */
import { workerData } from 'node:worker_threads';
import { serve } from './pool';

serve(workerData.module, workerData.memory, workerData.shared, workerData.thread, workerData.threads);
