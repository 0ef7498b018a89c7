/**
 * The soak program (issue 9): a short run keeps its invariants (no acknowledged write lost, no
 * crash, no violation) and exercises every round kind; the same seed and clock reproduce the
 * same run; the command line is validated with one-line errors and exit 2.
 */
import { describe, expect, it } from 'vitest';
import { SOAK_FAULT_KINDS } from '../src/faults';
import type { SoakSummary } from '../src/soak';
import { formatSoakSummary, parseSoakArgs, runSoak, SOAK_EXIT_OK, SOAK_EXIT_USAGE, SOAK_USAGE, soakExitCode, soakMain } from '../src/soak';

/** A clock that moves `step` ms each time it is read: the run length is a number of reads. */
function fakeClock(step: number): () => number {
  let t = 0;
  return () => {
    t += step;
    return t;
  };
}

function capture() {
  const o = { out: '', err: '' };
  return { o, io: { out: (s: string) => (o.out += s), err: (s: string) => (o.err += s) } };
}

describe('a short soak run', () => {
  it('1 s on the wall clock: mixed I/O with faults, races and fuzz batches, nothing lost, nothing crashed', () => {
    const s = runSoak({ seed: 7, durationSec: 1 });
    expect(s.details).toEqual([]);
    expect({ lost: s.ackedWritesLost, crashes: s.crashes, violations: s.violations }).toEqual({ lost: 0, crashes: 0, violations: 0 });
    expect(s.rounds.workload).toBeGreaterThan(0);
    expect(s.rounds.race + s.rounds.fuzz).toBeGreaterThan(0);
    expect(s.ios.reads + s.ios.writes).toBeGreaterThan(0);
    expect(s.ios.ok + s.ios.failed + s.ios.lost).toBe(s.ios.reads + s.ios.writes);
    expect(s.elapsedSec).toBeGreaterThanOrEqual(1);
    expect(soakExitCode(s)).toBe(SOAK_EXIT_OK);
  });

  it('is reproducible: the same seed and clock give the same summary (timings aside); faults fire and are counted by kind', () => {
    const strip = (s: SoakSummary) => ({ ...s, elapsedSec: 0, roundSec: null });
    const a = runSoak({ seed: 3, durationSec: 1, now: fakeClock(40) });
    const b = runSoak({ seed: 3, durationSec: 1, now: fakeClock(40) });
    expect(strip(a)).toEqual(strip(b));
    // Three clock reads per round plus one at the start: 1000 ms / 40 ms → 9 rounds of the cycle.
    expect(a.rounds).toEqual({ workload: 5, race: 2, fuzz: 2 });
    expect(a.racesExplored).toBe(2);
    expect(a.inputsFuzzed).toBe(16);
    expect(Object.keys(a.faults)).toEqual(SOAK_FAULT_KINDS.map((f) => f.kind));
    expect(Object.values(a.faults).reduce((n, f) => n + f.armed, 0)).toBeGreaterThan(0);
    expect(a.ios.blocksVerified).toBeGreaterThan(0);
    expect(soakExitCode(a)).toBe(SOAK_EXIT_OK);
    const text = formatSoakSummary(a);
    for (const label of ['I/Os: ', 'faults injected (failures caused or - / armed): ', 'races explored: 2', 'inputs fuzzed: 16', 'acknowledged writes lost: 0', 'crashes: 0', 'elapsed: ', 'result: PASS']) {
      expect(text).toContain(label);
    }
  });

  it('issue 9 regression: the RNIC faults no longer hang a live queue (the host request timeout cancels, the next round reconnects); device faults only, seed 1', () => {
    const s = runSoak({ seed: 1, durationSec: 1, now: fakeClock(6), faults: ['testbed'] });
    expect(s.details).toEqual([]);
    expect({ lost: s.ackedWritesLost, crashes: s.crashes, violations: s.violations }).toEqual({ lost: 0, crashes: 0, violations: 0 });
    expect(s.faults['rnic-dma-error']!.armed + s.faults['rnic-completion-error']!.armed).toBeGreaterThan(0);
    expect(s.ios.lost).toBeGreaterThan(0);
  });

  it('a summary with a lost write or a crash fails (exit 1)', () => {
    const a = runSoak({ seed: 3, durationSec: 0.001, now: fakeClock(40) });
    expect(soakExitCode({ ...a, ackedWritesLost: 1 })).toBe(1);
    expect(soakExitCode({ ...a, crashes: 1 })).toBe(1);
    expect(formatSoakSummary({ ...a, crashes: 1 })).toContain('result: FAIL');
  });
});

describe('soak command line', () => {
  it('bad arguments: one line on stderr naming the argument, nothing on stdout, exit 2', () => {
    const cases: Array<[string[], string]> = [
      [['--seed'], 'soak: --seed needs a value'],
      [['--seed', 'x'], 'soak: --seed "x": expected an integer 0..4294967295'],
      [['--seed', '-1'], 'soak: --seed "-1": expected an integer 0..4294967295'],
      [['--seed=4294967296'], 'soak: --seed "4294967296": expected an integer 0..4294967295'],
      [['--duration', '0'], 'soak: --duration "0": expected seconds, more than 0 and at most 86400'],
      [['--duration', '1e3'], 'soak: --duration "1e3": expected seconds, more than 0 and at most 86400'],
      [['--duration', '86401'], 'soak: --duration "86401": expected seconds, more than 0 and at most 86400'],
      [['--duration', 'a\nb'], 'soak: --duration "a\\nb": expected seconds, more than 0 and at most 86400'],
      [['--json=yes'], 'soak: --json takes no value'],
      [['--bogus'], 'soak: unknown argument "--bogus" (see --help)'],
      [['--faults', 'device'], 'soak: --faults "device": expected all, kernel or testbed'],
      [['--faults'], 'soak: --faults needs a value'],
      [['20'], 'soak: unknown argument "20" (see --help)'],
    ];
    for (const [argv, msg] of cases) {
      const { o, io } = capture();
      expect(soakMain(argv, io), argv.join(' ')).toBe(SOAK_EXIT_USAGE);
      expect(o).toEqual({ out: '', err: `${msg}\n` });
    }
  });

  it('parses the documented options (both spellings) and defaults', () => {
    expect(parseSoakArgs([])).toEqual({ seed: 1, durationSec: 60, json: false, help: false, faults: ['kernel', 'testbed'] });
    expect(parseSoakArgs(['--seed', '5', '--duration=2.5', '--json', '--faults=kernel'])).toEqual({ seed: 5, durationSec: 2.5, json: true, help: false, faults: ['kernel'] });
    const { o, io } = capture();
    expect(soakMain(['--help'], io)).toBe(0);
    expect(o.out).toBe(SOAK_USAGE);
  });

  it('--json prints the summary as JSON with the exit code', () => {
    const { o, io } = capture();
    expect(soakMain(['--seed', '2', '--duration', '0.5', '--json'], io, fakeClock(200))).toBe(0);
    const j = JSON.parse(o.out) as SoakSummary & { exitCode: number };
    expect(j.exitCode).toBe(0);
    expect(j.seed).toBe(2);
    expect(j.ackedWritesLost).toBe(0);
    expect(j.crashes).toBe(0);
    expect(o.err).toBe('');
  });
});
