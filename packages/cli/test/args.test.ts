/** Command-line parsing: options, lists, and the one-line errors the command relies on. */
import { describe, expect, test } from 'vitest';
import { parseArgs, UsageError } from '../src/index';

const OPTS = {
  json: { kind: 'flag' as const },
  policy: { kind: 'value' as const, choices: ['v2', 'upstream'] },
  client: { kind: 'list' as const, continueIf: /^[0-9a-f:.]+$/ },
  out: { kind: 'value' as const, short: 'o' },
};

describe('parseArgs', () => {
  test('flags, values, inline values, short options and positionals', () => {
    const a = parseArgs(['builtin:x', '--json', '--policy=v2', '-o', 'f.svg'], OPTS, 'cmd');
    expect(a.positionals).toEqual(['builtin:x']);
    expect(a.flags.has('json')).toBe(true);
    expect(a.values.get('policy')).toBe('v2');
    expect(a.values.get('out')).toBe('f.svg');
  });
  test('list options take repeats, commas and following BDF-like words', () => {
    const a = parseArgs(['t', '--client', '03:00.0', '04:00.0', '--client', '05:00.0,06:00.0', 'extra'], OPTS, 'cmd');
    expect(a.lists.get('client')).toEqual(['03:00.0', '04:00.0', '05:00.0', '06:00.0']);
    expect(a.positionals).toEqual(['t', 'extra']);
  });
  test.each([
    [['--nope'], "cmd: unknown option '--nope'"],
    [['--policy'], "cmd: option '--policy' needs a value"],
    [['--policy', 'v9'], "cmd: option '--policy' must be one of v2, upstream (got 'v9')"],
    [['--json=1'], "cmd: option '--json' takes no value"],
    [['--policy', 'v2', '--policy', 'upstream'], "cmd: option '--policy' given twice"],
    [['-x'], "cmd: unknown option '-x'"],
  ])('%j is refused with one line', (argv, msg) => {
    expect(() => parseArgs(argv, OPTS, 'cmd')).toThrow(new UsageError(msg));
  });
  test('an option another command takes is named as such (issue 7: an option in the wrong place)', () => {
    const elsewhere = (name: string) => (name === 'provider' ? ['check', 'find'] : []);
    expect(() => parseArgs(['t', '--provider', '03:00.0'], OPTS, 'matrix', elsewhere)).toThrow(new UsageError("matrix: option '--provider' is not a matrix option (it belongs to check, find)"));
    expect(() => parseArgs(['t', '--colour'], OPTS, 'matrix', elsewhere)).toThrow(new UsageError("matrix: unknown option '--colour'"));
  });
});
