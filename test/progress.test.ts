/**
 * Progress reporting (rules/progress.ts): the formatter, the display on a terminal and in logs, the
 * worker's reporter and its event lines, with a fake clock and fake streams; then a real task run
 * through `nx` without a terminal, as CI runs it.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { EVENT_PREFIX, formatProgress, parseProgressLine, ProgressDisplay, ProgressEvent, progressReporter } from '../rules/progress';
import { ScratchWorkspace } from './support/workspace';

class FakeOutput {
  text = '';
  constructor(
    readonly isTTY?: boolean,
    readonly columns?: number,
  ) {}
  write(s: string): void {
    this.text += s;
  }
  lines(): string[] {
    return this.text.split('\n').slice(0, -1);
  }
}

/** What a terminal shows after `text`: `\r` returns to the line's start, ESC[K erases to its end. */
function screen(text: string): string[] {
  const rows: string[][] = [[]];
  let col = 0;
  for (let i = 0; i < text.length; i++) {
    const row = rows[rows.length - 1];
    if (text.startsWith('\x1b[K', i)) {
      row.length = col;
      i += 2;
    } else if (text[i] === '\r') col = 0;
    else if (text[i] === '\n') {
      rows.push([]);
      col = 0;
    } else row[col++] = text[i];
  }
  return rows.map((r) => r.join(''));
}

const sampling = (done: number, elapsed_s: number, total = 5400): ProgressEvent => ({
  phase: 'sampling',
  done,
  total,
  unit: 'draws',
  elapsed_s,
  metric: { name: 'λ̂', value: 5.4321 },
});

describe('formatProgress', () => {
  it('shows counts, percent, rate, ETA and the running metric', () => {
    expect(formatProgress(sampling(600, 0.5))).toBe('sampling 600/5400 draws (11%)  1.2k draws/s  ETA 0:04  λ̂ 5.43');
    expect(formatProgress({ phase: 'training', done: 250, total: 1000, unit: 'steps', elapsed_s: 5, metric: { name: 'loss', value: 4.3796e-5 } })).toBe(
      'training 250/1000 steps (25%)  50 steps/s  ETA 0:15  loss 4.38e-5',
    );
  });

  it('leaves rate and ETA out until there is something to measure', () => {
    expect(formatProgress({ phase: 'warmup', done: 0, total: 100, unit: 'steps', elapsed_s: 0 })).toBe('warmup 0/100 steps (0%)');
    expect(formatProgress({ phase: 'warmup', done: 5, total: 100, unit: 'steps', elapsed_s: 0 })).toBe('warmup 5/100 steps (5%)');
  });

  it('writes slow rates as time per unit and large ones with SI suffixes', () => {
    expect(formatProgress({ phase: 'sampling', done: 2, total: 10, unit: 'draws', elapsed_s: 8 })).toBe('sampling 2/10 draws (20%)  4.0 s/draw  ETA 0:32');
    expect(formatProgress({ phase: 'warmup', done: 5e6, total: 1e7, unit: 'steps', elapsed_s: 1 })).toBe('warmup 5000000/10000000 steps (50%)  5.0M steps/s  ETA 0:01');
    expect(formatProgress({ phase: 'warmup', done: 9996, total: 20000, unit: 'steps', elapsed_s: 10 })).toContain('1.0k steps/s');
    expect(formatProgress({ phase: 'warmup', done: 51, total: 100, unit: 'steps', elapsed_s: 1 })).toContain('51 steps/s');
  });

  it('writes long ETAs as h:mm:ss and gives up beyond 999 hours', () => {
    expect(formatProgress({ phase: 'sampling', done: 100, total: 100000, unit: 'draws', elapsed_s: 10 })).toContain('ETA 2:46:30');
    expect(formatProgress({ phase: 'sampling', done: 1, total: 1e9, unit: 'draws', elapsed_s: 10 })).toContain('ETA >999h');
  });

  it('says 100% and ETA 0:00 at the end of a phase', () => {
    expect(formatProgress(sampling(5400, 4.5))).toBe('sampling 5400/5400 draws (100%)  1.2k draws/s  ETA 0:00  λ̂ 5.43');
  });

  it('never prints NaN or Infinity', () => {
    const texts: string[] = [];
    for (const done of [0, 1, 7, 1e12])
      for (const total of [0, 1, 10, 1e12])
        for (const elapsed_s of [0, -1, 1e-300, 1e-9, 3, 1e300])
          for (const value of [NaN, Infinity, -Infinity, 0, -2.5, 1e-320, 1e300])
            texts.push(formatProgress({ phase: 'p', done, total, unit: 'steps', elapsed_s, metric: { name: 'm', value } }));
    for (const t of texts) expect(t).not.toMatch(/NaN|Infinity/);
    expect(formatProgress({ ...sampling(10, 1), metric: { name: 'loss', value: NaN } })).toContain('loss non-finite');
  });
});

describe('ProgressDisplay on a terminal', () => {
  it('redraws one status line in place', () => {
    const out = new FakeOutput(true, 100);
    const d = new ProgressDisplay(out);
    d.update('a', sampling(0, 0));
    d.update('a', sampling(600, 0.5));
    expect(out.text.startsWith('\r\x1b[K')).toBe(true);
    expect(out.text).not.toContain('\n');
    expect(screen(out.text)).toEqual(['sampling 600/5400 draws (11%)  1.2k draws/s  ETA 0:04  λ̂ 5.43']);
  });

  it('clears the status line before an ordinary line and redraws it after', () => {
    const out = new FakeOutput(true, 100);
    const d = new ProgressDisplay(out);
    d.update('a', sampling(600, 0.5));
    const before = out.text.length;
    d.log('[a] a log line');
    expect(out.text.slice(before).startsWith('\r\x1b[K[a] a log line\n\r\x1b[K')).toBe(true);
    expect(screen(out.text)).toEqual(['[a] a log line', 'sampling 600/5400 draws (11%)  1.2k draws/s  ETA 0:04  λ̂ 5.43']);
  });

  it('clears it too when the line goes to another stream on the same terminal', () => {
    const out = new FakeOutput(true, 100);
    const err = new FakeOutput(true, 100);
    const d = new ProgressDisplay(out);
    d.update('a', sampling(600, 0.5));
    d.log('oops', err);
    expect(err.text).toBe('oops\n');
    expect(out.text.endsWith('\r\x1b[K\r\x1b[Ksampling 600/5400 draws (11%)  1.2k draws/s  ETA 0:04  λ̂ 5.43')).toBe(true);
  });

  it('keeps the status line within the width, in the longest form that fits', () => {
    const shown = (columns: number, options?: { width: (c: number) => number }) => {
      const out = new FakeOutput(true, columns);
      new ProgressDisplay(out, options).update('a', sampling(600, 0.5));
      return screen(out.text)[0];
    };
    expect(shown(62)).toBe('sampling 600/5400 draws (11%)  1.2k draws/s  ETA 0:04  λ̂ 5.43');
    expect(shown(61)).toBe('sampling 600/5400 draws (11%)  ETA 0:04  λ̂ 5.43');
    expect(shown(40)).toBe('sampling 11% ETA 0:04 λ̂ 5.43');
    expect(shown(20)).toBe('sampling 11% ETA 0…');
    expect(shown(100, { width: (c) => c / 2 })).toBe('sampling 600/5400 draws (11%)  ETA 0:04  λ̂ 5.43');
    // An unknown width (0, as a terminal of unknown size reports) counts as 80 columns.
    expect(shown(0)).toBe('sampling 600/5400 draws (11%)  1.2k draws/s  ETA 0:04  λ̂ 5.43');
  });

  it('joins several tasks, named, with " · "', () => {
    const out = new FakeOutput(true, 200);
    const d = new ProgressDisplay(out);
    d.update('run_a', sampling(600, 0.5));
    d.update('tgt_b', { phase: 'training', done: 10, total: 40, unit: 'steps', elapsed_s: 1, metric: { name: 'loss', value: 0.5 } });
    expect(screen(out.text)).toEqual(['[run_a] sampling 11% ETA 0:04 λ̂ 5.43 · [tgt_b] training 25% ETA 0:03 loss 0.500']);
  });

  it("leaves each phase's last state as a line, and a newline at the end", () => {
    const out = new FakeOutput(true, 100);
    const d = new ProgressDisplay(out);
    d.update('a', { phase: 'warmup', done: 0, total: 10, unit: 'steps', elapsed_s: 0 });
    d.update('a', { phase: 'warmup', done: 10, total: 10, unit: 'steps', elapsed_s: 2 });
    d.update('a', sampling(600, 0.5));
    d.update('a', sampling(700, 0.6));
    d.close();
    expect(out.text.endsWith('\n')).toBe(true);
    expect(screen(out.text)).toEqual([
      '[a] warmup 10/10 steps (100%)  5.0 steps/s  ETA 0:00',
      '[a] sampling 700/5400 draws (12%)  1.2k draws/s  ETA 0:04  λ̂ 5.43',
      '',
    ]);
  });
});

describe('ProgressDisplay in a log', () => {
  it('prints at most one line per task and phase every 10 s, plus every phase end, and no escape codes', () => {
    const out = new FakeOutput(false);
    const d = new ProgressDisplay(out);
    const total = 350;
    for (let i = 0; i <= total; i++) {
      d.update('a', sampling(i, i / 10, total));
      if (i % 7 === 0) d.update('b', { phase: 'training', done: i, total, unit: 'steps', elapsed_s: i / 20 });
    }
    d.update('a', { phase: 'other', done: 1, total: 2, unit: 'steps', elapsed_s: 0.5 });
    d.log('[a] an ordinary line');
    d.close();
    expect(out.text).not.toMatch(/[\r\x1b]/);
    const lines = out.lines();
    const a = lines.filter((l) => l.startsWith('[a] sampling')).map((l) => l.split(' ')[2]);
    expect(a).toEqual(['100/350', '200/350', '300/350', '350/350']);
    const b = lines.filter((l) => l.startsWith('[b] training')).map((l) => l.split(' ')[2]);
    expect(b).toEqual(['203/350', '350/350']);
    expect(lines.slice(-2)).toEqual(['[a] an ordinary line', '[a] other 1/2 steps (50%)  2.0 steps/s  ETA 0:01']);
  });

  it('starts the 10 s over in each new phase', () => {
    const out = new FakeOutput(false);
    const d = new ProgressDisplay(out);
    d.update('', { phase: 'warmup', done: 1, total: 2, unit: 'steps', elapsed_s: 11 });
    d.update('', { phase: 'sampling', done: 1, total: 3, unit: 'draws', elapsed_s: 9 });
    d.update('', { phase: 'sampling', done: 2, total: 3, unit: 'draws', elapsed_s: 10 });
    expect(out.lines()).toEqual(['warmup 1/2 steps (50%)  11 s/step  ETA 0:11', 'sampling 2/3 draws (66%)  5.0 s/draw  ETA 0:05']);
  });
});

describe('progressReporter', () => {
  const fakeClock = () => {
    const clock = { now: 0, read: () => clock.now };
    return clock;
  };

  it('sends at most two events a second per phase, each phase timed from its first update, and its last one', () => {
    const out = new FakeOutput(false);
    const clock = fakeClock();
    const r = progressReporter({ mode: 'events', out, clock: clock.read });
    clock.now = 1000;
    for (let i = 0; i <= 3000; i++, clock.now++) r.progress({ phase: 'warmup', done: i, total: 3000, unit: 'steps' });
    r.log('between phases');
    for (let i = 0; i <= 100; i++, clock.now++) r.progress({ phase: 'sampling', done: i, total: 400, unit: 'draws', metric: { name: 'λ̂', value: i } });
    r.close();
    const lines = out.lines();
    expect(lines.every((l) => l.startsWith(EVENT_PREFIX) || l === 'between phases')).toBe(true);
    const events = lines.map(parseProgressLine).filter((e) => e !== null);
    const warmup = events.filter((e) => e.phase === 'warmup');
    expect(warmup.map((e) => e.done)).toEqual([0, 500, 1000, 1500, 2000, 2500, 3000]);
    expect(warmup.map((e) => e.elapsed_s)).toEqual([0, 0.5, 1, 1.5, 2, 2.5, 3]);
    // Sampling stopped short of its total: close() still sends where it got to.
    expect(events.filter((e) => e.phase === 'sampling')).toEqual([
      { phase: 'sampling', done: 0, total: 400, unit: 'draws', metric: { name: 'λ̂', value: 0 }, elapsed_s: 0 },
      { phase: 'sampling', done: 100, total: 400, unit: 'draws', metric: { name: 'λ̂', value: 100 }, elapsed_s: 0.1 },
    ]);
  });

  it("sends a phase's last update before the next phase begins", () => {
    const out = new FakeOutput(false);
    const clock = fakeClock();
    const r = progressReporter({ mode: 'events', out, clock: clock.read });
    r.progress({ phase: 'training', done: 1, total: 100, unit: 'steps' });
    clock.now = 40;
    r.progress({ phase: 'training', done: 37, total: 100, unit: 'steps' });
    clock.now = 50;
    r.progress({ phase: 'warmup', done: 0, total: 0, unit: 'steps' });
    r.progress({ phase: 'sampling', done: 0, total: 10, unit: 'draws' });
    expect(out.lines().map((l) => parseProgressLine(l)).map((e) => e && [e.phase, e.done, e.elapsed_s])).toEqual([
      ['training', 1, 0],
      ['training', 37, 0.04],
      ['sampling', 0, 0],
    ]);
  });

  it('shows progress directly when no executor reads events: a status line on a terminal', () => {
    const out = new FakeOutput(true, 100);
    const clock = fakeClock();
    const r = progressReporter({ mode: undefined, out, clock: clock.read });
    r.log('sgld on tgt_x');
    for (let i = 0; i <= 10; i++, clock.now += 100) r.progress({ phase: 'sampling', done: i, total: 20, unit: 'draws' });
    expect(screen(out.text)).toEqual(['sgld on tgt_x', 'sampling 10/20 draws (50%)  10 draws/s  ETA 0:01']);
    r.close();
    expect(screen(out.text)).toEqual(['sgld on tgt_x', 'sampling 10/20 draws (50%)  10 draws/s  ETA 0:01', '']);
  });

  it('and plain lines in a log file', () => {
    const out = new FakeOutput(false);
    const clock = fakeClock();
    const r = progressReporter({ mode: undefined, out, clock: clock.read });
    for (let i = 0; i <= 30; i++, clock.now += 1000) r.progress({ phase: 'sampling', done: i, total: 30, unit: 'draws' });
    expect(out.lines()).toEqual([
      'sampling 10/30 draws (33%)  1.0 draws/s  ETA 0:20',
      'sampling 20/30 draws (66%)  1.0 draws/s  ETA 0:10',
      'sampling 30/30 draws (100%)  1.0 draws/s  ETA 0:00',
    ]);
  });

  it('parses only its own event lines', () => {
    const e = sampling(600, 0.5);
    expect(parseProgressLine(`${EVENT_PREFIX}${JSON.stringify(e)}`)).toEqual(e);
    expect(parseProgressLine(JSON.stringify(e))).toBeNull();
    expect(parseProgressLine('sampling 600/5400 draws')).toBeNull();
    expect(parseProgressLine(`${EVENT_PREFIX}{"phase":`)).toBeNull();
    expect(parseProgressLine(`${EVENT_PREFIX}{"phase":"x","done":"1","total":2,"unit":"steps","elapsed_s":0}`)).toBeNull();
  });
});

describe('progress of a real task under nx, without a terminal', () => {
  const ws = new ScratchWorkspace(`experiment: progress
targets:
  - { model: small, data: small, seed: 1, overrides: { training: { steps: 50 } } }
samplers:
  - { name: sgld, overrides: { steps: 200, warmup: 20, eval_every: 20, batch_size: 32 } }
`);
  afterAll(() => ws.dispose());

  it('prints plain progress lines with rate, ETA and λ̂, and no event lines or carriage returns', () => {
    const r = ws.nx('run-many', '-t', 'sample');
    expect(r.status, r.output).toBe(0);
    expect(r.output).toMatch(/^\[tgt_\w+\] training 50\/50 steps \(100%\) {2}\S+ steps\/s {2}ETA 0:00 {2}loss \S+$/m);
    expect(r.output).toMatch(/^\[sgld_\w+\] warmup 20\/20 steps \(100%\) {2}\S+ steps\/s {2}ETA 0:00$/m);
    expect(r.output).toMatch(/^\[sgld_\w+\] sampling 10\/10 draws \(100%\) {2}\S+ draws\/s {2}ETA 0:00 {2}λ̂ -?\d\S*$/m);
    expect(r.output).not.toContain(EVENT_PREFIX.trim());
    expect(r.output).not.toContain('"phase"');
    expect(r.output).not.toContain('\r');
  });
});
