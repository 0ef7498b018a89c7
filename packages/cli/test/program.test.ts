/**
 * The small-program skeleton the examples' `main.ts` use: the fixed command line, the exit codes
 * of the `p2pdma` command (0 done, 1 a failure, 2 bad arguments) and one stderr line per problem.
 */
import { mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';
import { UsageError } from '../src/args';
import { EXIT_NO, EXIT_OK, EXIT_USAGE } from '../src/main';
import type { ProgramSpec } from '../src/program';
import { isEntryPoint, parseSize, runIfEntryPoint, runProgram } from '../src/program';

interface Opts {
  readonly size?: number;
  readonly seed?: number;
  readonly mode?: 'fast' | 'slow';
}

/** A program that records its options and fails when asked to, to see what the skeleton does. */
function spec(calls: Partial<Opts>[], fail: readonly string[] = []): ProgramSpec<Opts, Partial<Opts>> {
  return {
    prog: 'toy',
    usage: 'usage: toy [--json] [--size <bytes>] [--seed <n>] [--mode fast|slow]\n',
    options: {
      '--mode': (v) => {
        if (v !== 'fast' && v !== 'slow') throw new UsageError(`--mode '${v}': expected one of fast, slow`);
        return { mode: v };
      },
    },
    run: (o) => {
      if ((o.size ?? 0) % 2 !== 0) throw new RangeError(`size ${o.size}: must be even`);
      calls.push(o);
      return o;
    },
    text: (r) => `text ${JSON.stringify(r)}\n`,
    json: (r) => `${JSON.stringify({ json: r })}\n`,
    failures: () => fail,
  };
}

function run(argv: string[], fail: readonly string[] = []) {
  const calls: Partial<Opts>[] = [];
  let out = '';
  let err = '';
  const code = runProgram(spec(calls, fail), argv, { out: (s) => (out += s), err: (s) => (err += s) });
  return { code, out, err, calls };
}

describe('runProgram', () => {
  test('options reach the run (only those given, later wins); text or --json; exit 0', () => {
    expect(run([])).toEqual({ code: EXIT_OK, out: 'text {}\n', err: '', calls: [{}] });
    const r = run(['--size', '4K', '--seed=7', '--mode', 'slow', '--mode=fast', '--json']);
    expect(r).toEqual({ code: EXIT_OK, out: '{"json":{"size":4096,"seed":7,"mode":"fast"}}\n', err: '', calls: [{ size: 4096, seed: 7, mode: 'fast' }] });
  });

  test('failures: the report still printed, one "<prog>: <message>" stderr line each, exit 1', () => {
    const r = run(['--seed', '3'], ['a: lost byte 5', 'b: lost byte 6']);
    expect(r).toEqual({ code: EXIT_NO, out: 'text {"seed":3}\n', err: 'toy: a: lost byte 5\ntoy: b: lost byte 6\n', calls: [{ seed: 3 }] });
  });

  test('--help and -h print the usage verbatim and run nothing, even after other options', () => {
    for (const argv of [['--help'], ['-h'], ['--size', '2', '-h']]) expect(run(argv)).toEqual({ code: EXIT_OK, out: spec([]).usage, err: '', calls: [] });
  });

  test('bad arguments: exit 2, one line naming the argument and the reason, nothing on stdout, no run', () => {
    const cases: [string[], string][] = [
      [['--size', 'x'], "toy: --size 'x': expected a number of bytes with an optional K, M or G suffix\n"],
      [['--size'], 'toy: option --size needs a value\n'],
      [['--size='], 'toy: option --size needs a value\n'],
      [['--seed', '-3'], "toy: --seed '-3': expected a non-negative integer\n"],
      [['--mode', 'warp'], "toy: --mode 'warp': expected one of fast, slow\n"],
      [['--mode'], 'toy: option --mode needs a value\n'],
      [['--json=yes'], "toy: unknown argument '--json=yes'\n"],
      [['--help=1'], "toy: unknown argument '--help=1'\n"],
      [['copy'], "toy: unknown argument 'copy'\n"],
      [['--toString'], "toy: unknown argument '--toString'\n"],
      [['--help', '--fast'], "toy: unknown argument '--fast'\n"],
      // The run's own refusal (a RangeError) is a usage error too.
      [['--size', '3'], 'toy: size 3: must be even\n'],
    ];
    for (const [argv, err] of cases) expect({ argv, ...run(argv) }).toEqual({ argv, code: EXIT_USAGE, out: '', err, calls: [] });
  });

  test('a bug in the run (not a RangeError) propagates', () => {
    const s = { ...spec([]), run: () => { throw new TypeError('bug'); } };
    expect(() => runProgram(s, [], { out: () => {}, err: () => {} })).toThrow('bug');
  });
});

test('parseSize: bytes with binary K/M/G suffixes, any case; anything else is null', () => {
  const cases: [string, number | null][] = [
    ['65536', 65536],
    ['64K', 65536],
    ['4m', 4 * 2 ** 20],
    ['1G', 2 ** 30],
    ['1.5M', null],
    ['-1', null],
    ['', null],
    ['2T', null],
    ['99999999999999999999', null],
  ];
  expect(cases.map(([s]) => [s, parseSize(s)])).toEqual(cases);
});

describe('isEntryPoint / runIfEntryPoint', () => {
  test('the same file (through a symlink too) is the entry point; another file, no script or a missing one is not', () => {
    const dir = mkdtempSync(join(tmpdir(), 'p2pdma-program-'));
    try {
      const file = join(dir, 'main.js');
      writeFileSync(file, '');
      const link = join(dir, 'link.js');
      symlinkSync(file, link);
      const url = pathToFileURL(file).href;
      expect(isEntryPoint(url, file)).toBe(true);
      expect(isEntryPoint(url, link)).toBe(true);
      expect(isEntryPoint(pathToFileURL(join(dir, 'other.js')).href, file)).toBe(false);
      expect(isEntryPoint(url, undefined)).toBe(false);
      expect(isEntryPoint(url, join(dir, 'missing.js'))).toBe(false);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('runIfEntryPoint does not run a module that was imported', () => {
    let ran = false;
    expect(runIfEntryPoint(import.meta.url, () => { ran = true; return 0; })).toBe(false);
    expect(ran).toBe(false);
  });
});
