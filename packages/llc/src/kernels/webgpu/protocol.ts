/**
 * The shared control words between the samplers' thread and the GPU thread (worker.ts): the caller
 * posts a message with a sequence number and waits until `done` holds that number; `ok` and the
 * text (a result or an error message, UTF-8, its length in `length`) say how the call went.
 */
export const CONTROL = { done: 0, ok: 1, length: 2 } as const;
export const CONTROL_WORDS = 3;
export const TEXT_BYTES = 1 << 16;

export function writeResult(control: Int32Array, text: Uint8Array, seq: number, ok: boolean, message: string): void {
  const bytes = Buffer.from(message, 'utf8').subarray(0, text.length);
  text.set(bytes);
  Atomics.store(control, CONTROL.length, bytes.length);
  Atomics.store(control, CONTROL.ok, ok ? 1 : 0);
  Atomics.store(control, CONTROL.done, seq);
  Atomics.notify(control, CONTROL.done);
}

export function readText(control: Int32Array, text: Uint8Array): string {
  return Buffer.from(text.subarray(0, Atomics.load(control, CONTROL.length))).toString('utf8');
}
