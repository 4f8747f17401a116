/**
 * The process's GPU, as the samplers' thread sees it: on first use it checks that a Vulkan loader
 * and driver are installed (so a machine without a GPU pays nothing and learns why), starts the GPU
 * thread (worker.ts), asks it for an adapter and a device, and from then on runs calls there
 * synchronously: post a message, block on a shared control word with Atomics.wait until the GPU
 * thread has written the results into shared memory (protocol.ts). The answer, or the reason there
 * is none, is kept for the life of the process.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { workerSource } from '../worker-source';
import { CONTROL, CONTROL_WORDS, readText, TEXT_BYTES } from './protocol';

export interface AdapterInfo {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
  /** A CPU implementation (Mesa's lavapipe, SwiftShader): for tests, never chosen by `auto`. */
  software: boolean;
  limits: Record<string, number>;
}

export type Gpu = { ok: true; adapter: AdapterInfo; call(message: Record<string, unknown>): string } | { ok: false; reason: string };

/** Time to start Dawn and get a device; a call's own limit is generous, a full-data pass on a software adapter is slow. */
const START_TIMEOUT_MS = 60_000;
const CALL_TIMEOUT_MS = 600_000;

export const CONTAINER_HINT = 'in containers NVIDIA_DRIVER_CAPABILITIES must include graphics (e.g. all or compute,utility,graphics)';

const MULTIARCH: Record<string, string> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu' };

/** Whether the dynamic loader can find `name`: in LD_LIBRARY_PATH, the usual folders, or its cache. */
function findLibrary(name: string): boolean {
  const arch = MULTIARCH[process.arch] ?? '';
  const dirs = [...(process.env.LD_LIBRARY_PATH ?? '').split(':').filter(Boolean), `/usr/lib/${arch}`, `/lib/${arch}`, '/usr/lib64', '/usr/lib', '/lib64', '/lib', '/usr/local/lib', '/usr/local/nvidia/lib64'];
  if (dirs.some((d) => existsSync(join(d, name)))) return true;
  try {
    return readFileSync('/etc/ld.so.cache').includes(name);
  } catch {
    return false;
  }
}

/**
 * Vulkan driver manifests where the Vulkan loader looks for them: only the files VK_DRIVER_FILES
 * (or its older name VK_ICD_FILENAMES) lists when it is set, else the standard folders and
 * VK_ADD_DRIVER_FILES.
 */
function icdManifests(): string[] {
  const listed = (value: string | undefined) => (value ? value.split(':').filter((f) => existsSync(f)) : []);
  const only = process.env.VK_DRIVER_FILES ?? process.env.VK_ICD_FILENAMES;
  if (only !== undefined) return listed(only);
  const files = listed(process.env.VK_ADD_DRIVER_FILES);
  const dataDirs = (process.env.XDG_DATA_DIRS || '/usr/local/share:/usr/share').split(':');
  const configDirs = (process.env.XDG_CONFIG_DIRS || '/etc/xdg').split(':');
  const dirs = [...configDirs, '/etc', ...dataDirs, join(homedir(), '.local', 'share')].map((d) => join(d, 'vulkan', 'icd.d'));
  for (const dir of dirs) {
    try {
      files.push(...readdirSync(dir).filter((f) => f.endsWith('.json')));
    } catch {
      // No such folder.
    }
  }
  return files;
}

/** Why Dawn cannot reach a GPU here without trying, or null when it may. */
function vulkanMissing(): string | null {
  if (process.platform !== 'linux') return null;
  if (!findLibrary('libvulkan.so.1')) return `no Vulkan loader (libvulkan.so.1; Debian: apt-get install libvulkan1; ${CONTAINER_HINT})`;
  if (icdManifests().length === 0) return `no Vulkan driver (no ICD manifest in /usr/share/vulkan/icd.d or /etc/vulkan/icd.d, or among the files VK_DRIVER_FILES or VK_ICD_FILENAMES name; an NVIDIA driver installs one; ${CONTAINER_HINT})`;
  return null;
}

let state: Gpu | undefined;

export function gpu(): Gpu {
  if (state) return state;
  const missing = vulkanMissing();
  if (missing) return (state = { ok: false, reason: missing });
  const control = new Int32Array(new SharedArrayBuffer(CONTROL_WORDS * 4));
  const text = new Uint8Array(new SharedArrayBuffer(TEXT_BYTES));
  // A thread that cannot even load its code answers the first call with the reason, rather than never.
  const startFailure = `const { workerData } = require('node:worker_threads'); const c = new Int32Array(workerData.control); const t = new Uint8Array(workerData.text);
    const m = Buffer.from('the GPU thread did not start: ' + (e && e.message)).subarray(0, t.length); t.set(m);
    Atomics.store(c, ${CONTROL.length}, m.length); Atomics.store(c, ${CONTROL.ok}, 0); Atomics.store(c, ${CONTROL.done}, 1); Atomics.notify(c, ${CONTROL.done});`;
  const source = `try { ${workerSource(__dirname, 'worker', __filename)} } catch (e) { ${startFailure} }`;
  const worker = new Worker(source, { eval: true, workerData: { control: control.buffer, text: text.buffer } });
  // An idle GPU thread must not keep the process alive; the process ends with an explicit exit.
  worker.unref();
  let seq = 0;
  const call = (message: Record<string, unknown>, timeoutMs = CALL_TIMEOUT_MS): string => {
    seq++;
    worker.postMessage({ ...message, seq });
    const deadline = Date.now() + timeoutMs;
    for (let done = Atomics.load(control, CONTROL.done); done !== seq; done = Atomics.load(control, CONTROL.done)) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`the GPU thread did not answer within ${timeoutMs / 1000} s`);
      Atomics.wait(control, CONTROL.done, done, Math.min(left, 1000));
    }
    const result = readText(control, text);
    if (!Atomics.load(control, CONTROL.ok)) throw new Error(result);
    return result;
  };
  try {
    const adapter = JSON.parse(call({ op: 'init' }, START_TIMEOUT_MS)) as AdapterInfo;
    state = { ok: true, adapter, call: (message) => call(message) };
  } catch (e) {
    const message = (e as Error).message;
    state = { ok: false, reason: message.includes('found no WebGPU adapter') ? `${message} (${CONTAINER_HINT})` : message };
  }
  return state;
}
