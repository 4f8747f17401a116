/** The native kernel's entry in the kernel registry: available when its addon was built for the current sources. */
import type { KernelEntry } from '../types';
import { ENABLE_NATIVE, lastBuildFailure, nativeBinaryPath, nativeSourceFiles } from './build';
import { NativeAddon, nativeIdentity, nativeKernel } from './kernel';

let loaded: { addon: NativeAddon } | { reason: string } | undefined;

/** The addon, loaded once per thread, or why it cannot be. */
export function loadNativeAddon(): { addon: NativeAddon } | { reason: string } {
  if (loaded) return loaded;
  const path = nativeBinaryPath();
  try {
    loaded = { addon: require(path) as NativeAddon };
  } catch (e) {
    const failure = lastBuildFailure();
    const why = failure
      ? `it was not built when npm install ran: ${failure}`
      : (e as NodeJS.ErrnoException).code === 'MODULE_NOT_FOUND'
        ? 'it is not built for the current sources'
        : `its addon does not load: ${(e as Error).message}`;
    loaded = { reason: `${why}. To enable it: ${ENABLE_NATIVE}` };
  }
  return loaded;
}

export const native: KernelEntry = {
  name: 'native',
  precisions: ['float32', 'float64'],
  available() {
    const l = loadNativeAddon();
    return 'addon' in l ? { ok: true } : { ok: false, reason: l.reason };
  },
  create(problem, { threads }) {
    const l = loadNativeAddon();
    if (!('addon' in l)) throw new Error(`the native kernel is not available: ${l.reason}`);
    return nativeKernel(problem, l.addon, threads);
  },
  identity(dtype) {
    const l = loadNativeAddon();
    if (!('addon' in l)) throw new Error(`the native kernel is not available: ${l.reason}`);
    return nativeIdentity(l.addon, dtype);
  },
  sourceFiles: nativeSourceFiles,
};
