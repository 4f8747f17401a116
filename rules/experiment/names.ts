/**
 * Names of experiments and tuning files. Each becomes an Nx project (`<experiment>`, `tune-<name>`)
 * beside the projects of targets (`tgt_<12 hex>`), runs (`<sampler>_<12 hex>`), slices of large
 * sweeps (`slice_<12 hex>`) and the code
 * (`_lambda-hat-code`), and Nx refuses the whole graph when two projects share a name. So an
 * experiment may not take a name of those shapes, and two files may not declare one name.
 */
import { readFileSync } from 'node:fs';
import { MAX_NAME_LENGTH } from '../../packages/llc/src/limits';
import { SAMPLER_NAMES } from '../../packages/llc/src/samplers';

/** `an experiment name` rule as a regex: a letter, then letters, digits, _ -. */
export const NAME_PATTERN = /^[A-Za-z][A-Za-z0-9_-]*$/;

const RESERVED: [RegExp, string][] = [
  [/^tune-/, 'tune-<name> is the Nx project of a tuning file'],
  [/^tgt_[0-9a-f]{12}$/, 'tgt_<12 hex digits> is the Nx project of a target'],
  [new RegExp(`^(${SAMPLER_NAMES.join('|')})_[0-9a-f]{12}$`), '<sampler>_<12 hex digits> is the Nx project of a run'],
  [/^slice_[0-9a-f]{12}$/, 'slice_<12 hex digits> is the Nx project of a slice of a large sweep'],
  [/^_lambda-hat-code$/, '_lambda-hat-code is the Nx project of the code tasks run'],
];

/** Why `name` cannot be an experiment's name, or undefined when it can. */
export function reservedExperimentName(name: string): string | undefined {
  for (const [re, why] of RESERVED) if (re.test(name)) return `"${name}" is reserved: ${why} (choose another experiment name)`;
  return undefined;
}

/** Why `name` cannot be an experiment's (or, with kind 'tuning', a tuning file's) name, or undefined. */
export function nameProblem(name: string, kind: 'experiment' | 'tuning'): string | undefined {
  if (name.length > MAX_NAME_LENGTH) return `is ${name.length} characters long: expected at most ${MAX_NAME_LENGTH} (${kind} names become directory and Nx project names)`;
  if (!NAME_PATTERN.test(name)) return `expected ${kind === 'tuning' ? 'a tuning name' : 'an experiment name'} (a letter, then letters, digits, _ -)`;
  return kind === 'experiment' ? reservedExperimentName(name) : undefined;
}

/**
 * The name a file declares under `key` (`experiment:` or `tune:`), read from its text without
 * loading it, so that a file that fails to load, or is being edited, still has one; undefined when
 * it declares none or cannot be read (a directory, a removed file: their own errors say so).
 */
export function declaredName(absFile: string, key: 'experiment' | 'tune'): string | undefined {
  let text = '';
  try {
    text = readFileSync(absFile, 'utf8').slice(0, 64 * 1024);
  } catch {
    return undefined;
  }
  return new RegExp(`^${key}:\\s*['"]?([A-Za-z][A-Za-z0-9_-]*)`, 'm').exec(text)?.[1];
}
