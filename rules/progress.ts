/**
 * Progress of long work, in one place: what rules report, how the worker times and throttles it,
 * how it travels from a worker to the Nx executor (event lines), and how it is shown. On a terminal
 * it is one status line redrawn in place; anywhere else (CI, Slurm logs, Nx's batch output) it is
 * plain lines, at most one per task and phase every 10 s plus each phase's last state.
 *
 * Rules import only this module's types, so changing how progress looks never invalidates a cache
 * entry (runner/code-inputs.ts does not follow type-only imports).
 */

export interface ProgressEvent {
  /** What is being done: `training`, `warmup`, `sampling`. */
  phase: string;
  done: number;
  total: number;
  /** What `done` counts: `steps`, `draws`. */
  unit: string;
  /** Seconds since this phase began, measured by the process doing the work. */
  elapsed_s: number;
  /** The running value worth watching: λ̂ while sampling, the loss while training. */
  metric?: { name: string; value: number };
}

/** What a rule reports; the reporter adds the time. */
export type ProgressUpdate = Omit<ProgressEvent, 'elapsed_s'>;

/** The part of a Node write stream the display uses, so tests can pass a fake. */
export interface TextOutput {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Milliseconds on a monotonic clock. */
export type Clock = () => number;

const PLAIN_EVERY_S = 10;
const EVENT_EVERY_MS = 500;
const DEFAULT_COLUMNS = 80;
const CLEAR_LINE = '\r\x1b[K';
/** Marks a worker's stdout line as a progress event for the executor, never for people. */
export const EVENT_PREFIX = '@lambda-hat:progress ';

// ---- Formatting

/** `sampling 512/1000 draws (51%)  1.2k draws/s  ETA 0:04  λ̂ 5.43` */
export function formatProgress(e: ProgressEvent): string {
  return forms(e)[0];
}

/**
 * The ways to show an event, longest first: everything; without the rate; and the short
 * `sampling 51% ETA 0:04 λ̂ 5.43`, also a task's share of a status line shared with others.
 */
function forms(e: ProgressEvent): [string, string, string] {
  const rate = rateOf(e);
  const counts = `${e.phase} ${e.done}/${e.total} ${e.unit} (${percent(e)}%)`;
  const eta = rate === null ? [] : [`ETA ${formatEta(e, rate)}`];
  const metric = e.metric ? [formatMetric(e.metric)] : [];
  return [
    [counts, ...(rate === null ? [] : [formatRate(rate, e.unit)]), ...eta, ...metric].join('  '),
    [counts, ...eta, ...metric].join('  '),
    [`${e.phase} ${percent(e)}%`, ...eta, ...metric].join(' '),
  ];
}

function percent(e: ProgressEvent): number {
  return e.total > 0 ? Math.min(100, Math.max(0, Math.floor((100 * e.done) / e.total))) : 100;
}

/** Units per second, or null before there is anything to measure. */
function rateOf(e: ProgressEvent): number | null {
  const rate = e.done / e.elapsed_s;
  return e.done > 0 && e.elapsed_s > 0 && Number.isFinite(rate) ? rate : null;
}

/** `1.2k draws/s`, or `4.0 s/draw` when a unit takes longer than a second. */
function formatRate(perSecond: number, unit: string): string {
  return perSecond >= 1 ? `${compact(perSecond)} ${unit}/s` : `${compact(1 / perSecond)} s/${unit.replace(/s$/, '')}`;
}

/** Two or three significant figures with an SI suffix: 5.1, 51, 512, 1.2k, 35k, 4.0M. */
function compact(x: number): string {
  const suffixes = ['', 'k', 'M', 'G', 'T', 'P'];
  let i = 0;
  while (i < suffixes.length - 1 && x >= 999.5) {
    x /= 1000;
    i++;
  }
  return `${x < 9.95 ? x.toFixed(1) : x.toFixed(0)}${suffixes[i]}`;
}

/** `0:04`, `12:30`, `1:02:03`; beyond 999 hours an estimate says nothing more. */
function formatEta(e: ProgressEvent, rate: number): string {
  const t = Math.round(Math.max(0, e.total - e.done) / rate);
  const h = Math.floor(t / 3600);
  if (h > 999) return '>999h';
  const m = Math.floor((t % 3600) / 60);
  const s = String(t % 60).padStart(2, '0');
  return h > 0 ? `${h}:${String(m).padStart(2, '0')}:${s}` : `${m}:${s}`;
}

function formatMetric(m: { name: string; value: number }): string {
  const v = m.value;
  const text = !Number.isFinite(v) ? 'non-finite' : v === 0 ? '0' : Math.abs(v) >= 1e-2 && Math.abs(v) < 999.5 ? v.toPrecision(3) : v.toExponential(2);
  return `${m.name} ${text}`;
}

/** Terminal columns of `text`: combining marks (the hat of λ̂) take none. */
function widthOf(text: string): number {
  return text.replace(/\p{M}/gu, '').length;
}

/** Cuts `text` to `width` terminal columns, marking the cut. */
function cutToWidth(text: string, width: number): string {
  if (widthOf(text) <= width) return text;
  let out = '';
  for (const ch of text) {
    if (widthOf(out + ch) > width - 1) break;
    out += ch;
  }
  return `${out}…`;
}

// ---- Display

interface TaskState {
  last: ProgressEvent;
  /** Whether `last` is already in the permanent output. */
  printed: boolean;
  /** Elapsed time of the phase from which a plain line may be printed again. */
  nextPlain_s: number;
}

/**
 * Shows the progress of one or more tasks (keyed by a label, e.g. the project name) on `out`. On a
 * TTY: one status line, redrawn in place and kept within the width (in the longest form that fits),
 * naming the tasks and joining their short forms with ` · ` when several run; ordinary lines go
 * through `log()`, which clears the status line first and redraws it after. Elsewhere: plain
 * lines, throttled. In both modes each phase's last state stays in the output as a labelled line.
 */
export class ProgressDisplay {
  private readonly tasks = new Map<string, TaskState>();
  private readonly live: boolean;
  private readonly width: (columns: number) => number;
  private drawn = false;

  /** `width` turns the terminal's columns into those the status line may use (default: all). */
  constructor(
    private readonly out: TextOutput,
    { width = (columns: number) => columns }: { width?: (columns: number) => number } = {},
  ) {
    this.live = out.isTTY === true;
    this.width = width;
  }

  update(label: string, e: ProgressEvent): void {
    if (this.tasks.get(label)?.last.phase !== e.phase) {
      this.finish(label);
      this.tasks.set(label, { last: e, printed: false, nextPlain_s: PLAIN_EVERY_S });
    }
    const state = this.tasks.get(label)!;
    state.last = e;
    state.printed = false;
    if (e.done >= e.total) this.finish(label);
    else if (this.live) this.redraw();
    else if (e.elapsed_s >= state.nextPlain_s) {
      this.out.write(`${prefix(label)}${formatProgress(e)}\n`);
      state.printed = true;
      state.nextPlain_s = e.elapsed_s + PLAIN_EVERY_S;
    }
  }

  /** Prints an ordinary line on `stream` (default: this display's output) without tearing the status line. */
  log(line: string, stream: TextOutput = this.out): void {
    this.clear();
    stream.write(`${line}\n`);
    this.redraw();
  }

  /** The task is over: its last state, if not yet shown, becomes a line, and it leaves the status line. */
  finish(label: string): void {
    const state = this.tasks.get(label);
    if (!state) return;
    this.tasks.delete(label);
    if (state.printed) this.redraw();
    else this.log(`${prefix(label)}${formatProgress(state.last)}`);
  }

  close(): void {
    for (const label of [...this.tasks.keys()]) this.finish(label);
    this.clear();
  }

  private clear(): void {
    if (!this.drawn) return;
    this.out.write(CLEAR_LINE);
    this.drawn = false;
  }

  private redraw(): void {
    if (!this.live) return;
    const states = [...this.tasks];
    if (states.length === 0) return this.clear();
    // One column short: writing the last column makes some terminals wrap, and a wrapped line cannot be redrawn.
    const width = this.width(this.out.columns || DEFAULT_COLUMNS) - 1;
    const single = states.length === 1 && forms(states[0][1].last);
    const text = single ? (single.find((f) => widthOf(f) <= width) ?? single[2]) : states.map(([label, s]) => `${prefix(label)}${forms(s.last)[2]}`).join(' · ');
    this.out.write(`${CLEAR_LINE}${cutToWidth(text, width)}`);
    this.drawn = true;
  }
}

function prefix(label: string): string {
  return label ? `[${label}] ` : '';
}

// ---- Worker side

export interface ProgressReporter {
  progress(update: ProgressUpdate): void;
  /** An ordinary line of the rule's output. */
  log(message: string): void;
  /** The rule has ended: the last state of an unfinished phase is shown. */
  close(): void;
}

/**
 * The reporter a worker gives its rule. It times each phase from its first update and passes on at
 * most two updates a second per phase, plus every phase's first and last, so rules and samplers may
 * report as often as they like. `mode` is LAMBDA_HAT_PROGRESS: `events` (set by the local backend)
 * writes event lines for the executor to show; unset, progress is shown on `out` directly, as a
 * status line on a terminal and plain lines in a log file (a Slurm job's output).
 */
export function progressReporter({
  mode = process.env.LAMBDA_HAT_PROGRESS,
  out = process.stdout,
  clock = () => performance.now(),
}: { mode?: string; out?: TextOutput; clock?: Clock } = {}): ProgressReporter {
  const display = mode === 'events' ? null : new ProgressDisplay(out);
  const send = (e: ProgressEvent) => (display ? display.update('', e) : out.write(`${EVENT_PREFIX}${JSON.stringify(e)}\n`));
  let phase: { name: string; start: number; lastSent: number; held: ProgressUpdate | null; heldAt: number } | null = null;
  const sendHeld = () => {
    if (phase?.held) send({ ...phase.held, elapsed_s: (phase.heldAt - phase.start) / 1000 });
  };

  return {
    progress(update) {
      // A phase with nothing to do has no progress to show.
      if (update.total <= 0) return;
      const now = clock();
      if (phase?.name !== update.phase) {
        sendHeld();
        phase = { name: update.phase, start: now, lastSent: now, held: null, heldAt: now };
      } else if (update.done < update.total && now - phase.lastSent < EVENT_EVERY_MS) {
        phase.held = update;
        phase.heldAt = now;
        return;
      }
      phase.lastSent = now;
      phase.held = null;
      send({ ...update, elapsed_s: (now - phase.start) / 1000 });
    },
    log(message) {
      if (display) display.log(message);
      else out.write(`${message}\n`);
    },
    close() {
      sendHeld();
      phase = null;
      display?.close();
    },
  };
}

/** The event on a worker's output line, or null for an ordinary line. */
export function parseProgressLine(line: string): ProgressEvent | null {
  if (!line.startsWith(EVENT_PREFIX)) return null;
  let e: unknown;
  try {
    e = JSON.parse(line.slice(EVENT_PREFIX.length));
  } catch {
    return null;
  }
  const ok =
    typeof e === 'object' &&
    e !== null &&
    typeof (e as ProgressEvent).phase === 'string' &&
    typeof (e as ProgressEvent).unit === 'string' &&
    ['done', 'total', 'elapsed_s'].every((k) => typeof (e as Record<string, unknown>)[k] === 'number');
  return ok ? (e as ProgressEvent) : null;
}
