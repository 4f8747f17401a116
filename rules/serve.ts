/**
 * `lambda-hat serve`: a warm worker, as Parsl's HighThroughputExecutor keeps them. It loads the
 * code once, then runs tasks one after another as its parent sends them over the IPC channel, so
 * a task costs its own work plus milliseconds instead of a Node start and a TypeScript compile.
 * One task at a time: tasks that run concurrently are in different workers, so a crash, a runaway
 * allocation or a kill takes down one task only (the parent replaces the worker).
 *
 * Everything the task writes through process.stdout and process.stderr travels on the IPC channel
 * too, in order with the `done` message, so the parent knows which lines belong to which task.
 * Native code that writes to the file descriptors directly bypasses this; the parent still reads
 * those pipes and gives their lines to the task running at the time.
 */
import { RULES } from './index';
import { INPUT_ERROR_STATUS, isInputError, runRule, UserError } from './rule';

/** What the parent sends: run `rule` on `spec`. */
export interface RunRequest {
  type: 'run';
  rule: string;
  spec: unknown;
}

/** What the worker sends. `status` follows the exit statuses of `lambda-hat run`: 0, 2 for an input error, 1 for a bug. */
export type WorkerMessage =
  | { type: 'output'; stream: 'stdout' | 'stderr'; text: string }
  | { type: 'done'; status: number; cpuSeconds: number };

type Write = typeof process.stdout.write;

/** Sends what the task writes to `stream` as messages, until the returned function restores it. */
function capture(stream: NodeJS.WriteStream, name: 'stdout' | 'stderr', send: (m: WorkerMessage) => void): () => void {
  const original = stream.write;
  stream.write = ((chunk: string | Uint8Array, encoding?: BufferEncoding | ((e?: Error | null) => void), callback?: (e?: Error | null) => void) => {
    const text = typeof chunk === 'string' ? chunk : Buffer.from(chunk).toString(typeof encoding === 'string' ? encoding : 'utf8');
    send({ type: 'output', stream: name, text });
    const done = typeof encoding === 'function' ? encoding : callback;
    done?.();
    return true;
  }) as Write;
  return () => {
    stream.write = original;
  };
}

async function runOne(request: RunRequest, root: string): Promise<number> {
  const rule = RULES[request.rule];
  try {
    if (!rule) throw new UserError(`unknown rule "${request.rule}"`);
    await runRule(rule, request.spec, root);
    return 0;
  } catch (e) {
    if (isInputError(e)) {
      process.stderr.write(`${e.message}\n`);
      return INPUT_ERROR_STATUS;
    }
    process.stderr.write(`${(e as Error)?.stack ?? String(e)}\n`);
    return 1;
  }
}

/** Serves tasks until the parent disconnects. */
export function serve(root: string): Promise<number> {
  if (!process.send) throw new UserError('lambda-hat serve is started by the runner, with an IPC channel; to run one task by hand use `lambda-hat run <rule> <task.json>`');
  const send = (m: WorkerMessage) => process.send!(m);
  let queue = Promise.resolve();
  return new Promise((resolve) => {
    process.on('disconnect', () => resolve(0));
    process.on('message', (request: RunRequest) => {
      queue = queue.then(async () => {
        const restore = [capture(process.stdout, 'stdout', send), capture(process.stderr, 'stderr', send)];
        const cpu = process.cpuUsage();
        let status: number;
        try {
          status = await runOne(request, root);
        } finally {
          restore.forEach((r) => r());
        }
        const used = process.cpuUsage(cpu);
        send({ type: 'done', status, cpuSeconds: (used.user + used.system) / 1e6 });
        // After a bug, the worker's state is suspect: it leaves, and the parent starts a fresh one.
        if (status === 1) process.disconnect();
      });
    });
  });
}
