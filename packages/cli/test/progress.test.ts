/**
 * The `simulate` progress bar (issue 7: "a progress bar on runs longer than a second (not in
 * `--json` mode or without a TTY)"): on stderr, only on a terminal, never with --json, only past
 * one second of wall time, erased at the end. The clock is injected through `io.now`.
 */
import { join } from 'node:path';
import { repoRoot } from '@p2pdma/test-utils';
import { describe, expect, test } from 'vitest';
import { type CliIo, EXIT_OK, main, PROGRESS_CELLS, PROGRESS_DELAY_MS, ProgressBar } from '../src/index';
import { run } from './helpers';

const EXAMPLE = join(repoRoot, 'packages', 'cli', 'scenarios', 'acs-redirect-mixed.json');

/** Run main with a terminal on stderr (or not) and a virtual clock advancing `stepMs` per reading. */
function runWith(argv: string[], opts: { errIsTTY: boolean; stepMs: number }) {
  let out = '';
  let err = '';
  let t = 0;
  const io: CliIo = {
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
    isTTY: false,
    errIsTTY: opts.errIsTTY,
    now: () => {
      t += opts.stepMs;
      return t;
    },
  };
  return { code: main(argv, io), out, err };
}

/** The bar's writes: `\r` + line (redraws), then `\r` + spaces + `\r` (erase). */
function frames(err: string): string[] {
  return err.split('\r').filter((f) => f.length > 0);
}

describe('simulate: the progress bar', () => {
  test('shown on a slow run on a terminal: redrawn in place on stderr, ends at 100%, then erased; stdout is the same as without it', () => {
    // 40 ms per clock reading: the bar appears once 1 s has passed, well before the 52 batches end.
    const r = runWith(['simulate', EXAMPLE], { errIsTTY: true, stepMs: 40 });
    expect(r.code).toBe(EXIT_OK);
    expect(r.out).toBe(run('simulate', EXAMPLE).out);
    expect(r.err.startsWith('\r[')).toBe(true);
    const f = frames(r.err);
    const lines = f.slice(0, -1);
    expect(lines.length).toBeGreaterThan(3);
    for (const l of lines) expect(l).toMatch(new RegExp(`^\\[[#.]{${PROGRESS_CELLS}}\\] +\\d+% \\d+/400 I/Os: (system-memory|p2pmem) *$`));
    expect(lines.at(-1)!.trimEnd()).toBe(`[${'#'.repeat(PROGRESS_CELLS)}] 100% 400/400 I/Os: p2pmem`);
    // The last write erases the line: spaces over the longest line, cursor back to column 0.
    const width = Math.max(...lines.map((l) => l.length));
    expect(r.err.endsWith(`\r${' '.repeat(width)}\r`)).toBe(true);
    expect(r.err).not.toContain('\n');
  });

  test('absent with --json (even on a slow terminal run)', () => {
    const r = runWith(['simulate', EXAMPLE, '--json'], { errIsTTY: true, stepMs: 40 });
    expect(r.code).toBe(EXIT_OK);
    expect(r.err).toBe('');
    expect(JSON.parse(r.out).verified).toBe(true);
  });

  test('absent when stderr is not a terminal (piped)', () => {
    const r = runWith(['simulate', EXAMPLE], { errIsTTY: false, stepMs: 40 });
    expect(r.code).toBe(EXIT_OK);
    expect(r.err).toBe('');
  });

  test('absent on a fast run (the clock never passes one second)', () => {
    const r = runWith(['simulate', EXAMPLE], { errIsTTY: true, stepMs: 0 });
    expect(r.code).toBe(EXIT_OK);
    expect(r.err).toBe('');
  });
});

describe('ProgressBar', () => {
  /** A bar on a recorded sink with a settable clock. */
  function bar() {
    const writes: string[] = [];
    let t = 0;
    const b = new ProgressBar({ write: (s) => writes.push(s), now: () => t }, 'I/Os');
    return { b, writes, at: (ms: number) => (t = ms) };
  }

  test(`nothing up to ${PROGRESS_DELAY_MS} ms; then one frame per new percentage; finish erases exactly what was drawn`, () => {
    const { b, writes, at } = bar();
    at(PROGRESS_DELAY_MS);
    b.update(1, 4);
    expect(writes).toEqual([]);
    expect(b.visible).toBe(false);
    at(PROGRESS_DELAY_MS + 1);
    b.update(1, 4, 'p2pmem');
    b.update(1, 4, 'p2pmem');
    b.update(2, 4);
    const quarter = `[${'#'.repeat(8)}${'.'.repeat(22)}]  25% 1/4 I/Os: p2pmem`;
    const half = `[${'#'.repeat(15)}${'.'.repeat(15)}]  50% 2/4 I/Os`;
    expect(writes).toEqual([`\r${quarter}`, `\r${half.padEnd(quarter.length)}`]);
    b.finish();
    expect(writes.at(-1)).toBe(`\r${' '.repeat(quarter.length)}\r`);
    expect(b.visible).toBe(false);
    b.finish();
    expect(writes).toHaveLength(3);
  });

  test('finish writes nothing when the bar never appeared', () => {
    const { b, writes } = bar();
    b.update(3, 4);
    b.finish();
    expect(writes).toEqual([]);
  });
});
