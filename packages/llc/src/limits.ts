/**
 * Upper bounds on what a config may ask for, in one place, derived from what this machine and its
 * JavaScript engine can hold. Without them a value such as `n_data: 1e12` passed validation and
 * failed at run time with a RangeError stack trace (typed arrays have a maximum length), and a
 * 300-character experiment name failed with ENAMETOOLONG after every sample had run. Each message
 * names the bound.
 */
import { constants } from 'node:buffer';
import { totalmem } from 'node:os';
import { z } from 'zod';

/**
 * The most elements any one Float64Array may have: the engine's largest array buffer
 * (buffer.constants.MAX_LENGTH bytes, 2^32 on Node 20) over 8 bytes per float64.
 */
export const MAX_ARRAY_ELEMENTS = Math.floor(constants.MAX_LENGTH / 8);

/** Bytes of memory on this machine (os.totalmem()). */
export const TOTAL_MEMORY_BYTES = totalmem();

/**
 * The most values of one dataset (`n_data × (in_dim + out_dim)` and the same for `n_test`), of one
 * layer (`width × previous width`) and of a minibatch: a float64 array of that many elements.
 */
export const MAX_VALUES = MAX_ARRAY_ELEMENTS;

/** The most rows of a dataset or a minibatch (n_data, n_test, batch_size): also a typed-array length. */
export const MAX_ROWS = MAX_ARRAY_ELEMENTS;

/** The largest layer width; a weight matrix of two such layers must still fit in MAX_VALUES. */
export const MAX_WIDTH = 1_000_000;

/** The most iterations of any loop a config sets (steps, draws, warmup): well past any real run, and exact in float64. */
export const MAX_ITERATIONS = 1_000_000_000;

/**
 * The most bytes the parameters of every chain may take (`parameters × chains × 8`): half of this
 * machine's memory, since gradients, momenta and sampler state take as much again.
 */
export const MAX_STATE_BYTES = Math.floor(TOTAL_MEMORY_BYTES / 2);

/**
 * Experiment and tuning names become directory names (`artifacts/experiments/<name>/`, a path
 * component of at most 255 bytes on every common filesystem) and Nx project names; 100 characters
 * leaves room for what is appended to them.
 */
export const MAX_NAME_LENGTH = 100;

/** The largest config file read (experiment, tuning, preset, card): far beyond any real one. */
export const MAX_CONFIG_BYTES = 10 * 1024 * 1024;

/**
 * `1234567` → `1,234,567`, for messages about counts (integers). Not toLocaleString: its first call
 * loads ICU's locale data, ~10 ms of the start of every process whose schemas format a limit.
 */
export const formatCount = (n: number) => String(n).replace(/\B(?=(\d{3})+(?!\d))/g, ',');

/** `8589934592` → `8.0 GiB`. */
export function formatBytes(n: number): string {
  const units = ['bytes', 'KiB', 'MiB', 'GiB', 'TiB'];
  let u = 0;
  while (n >= 1024 && u < units.length - 1) (n /= 1024), u++;
  return u === 0 ? `${n} bytes` : `${n.toFixed(1)} ${units[u]}`;
}

/** A sampler's `batch_size`: rows of a minibatch, at most MAX_ROWS. */
export const BATCH_SIZE = z.int().min(1).max(MAX_ROWS, `must be at most ${formatCount(MAX_ROWS)} (the longest float64 array this engine can allocate)`);
