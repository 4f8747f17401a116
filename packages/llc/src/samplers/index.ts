/**
 * The sampler registry. Samplers are loaded by name rather than imported here, so that a sample
 * task's code inputs are exactly its own sampler's module (plus what that imports): editing one
 * sampler reruns only that sampler's tasks.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { SamplerModule } from './types';

export const SAMPLER_NAMES = ['sgld', 'hmc', 'mclmc', 'vi', 'flow'] as const;
export type SamplerName = (typeof SAMPLER_NAMES)[number];

export function isSamplerName(name: string): name is SamplerName {
  return (SAMPLER_NAMES as readonly string[]).includes(name);
}

/** The source file of a sampler, `<name>.ts` or, for one split into modules, `<name>/index.ts`: the entry point of its code inputs. */
export function samplerModulePath(name: SamplerName): string {
  const file = join(__dirname, `${name}.ts`);
  return existsSync(file) ? file : join(__dirname, name, 'index.ts');
}

export async function loadSampler(name: SamplerName): Promise<SamplerModule> {
  const mod = await import(samplerModulePath(name));
  return mod.default as SamplerModule;
}
