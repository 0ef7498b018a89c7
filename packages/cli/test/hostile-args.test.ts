/**
 * Hostile command lines (project issue 9): random argv arrays drawn from the command's own
 * vocabulary (commands, options, BDF-ish words, builtin names, topology files) and garbage go
 * through `main(argv, io)`. It never throws; the exit code is 0, 1 or 2; with 2 (bad input),
 * stderr is exactly one line and stdout is empty.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinNames, getBuiltin } from '@p2pdma/pci-core';
import { lspciFixtureNames, sharedFixturesDir } from '@p2pdma/test-utils';
import fc from 'fast-check';
import { afterAll, describe, expect, test } from 'vitest';
import { EXIT_NO, EXIT_OK, EXIT_USAGE } from '../src/index';
import { run } from './helpers';

const dir = mkdtempSync(join(tmpdir(), 'p2pdma-hostile-args-'));
const seedJson = JSON.stringify(getBuiltin('seed-switch'), null, 2);
const files = {
  seed: join(dir, 'seed.json'),
  cut: join(dir, 'cut.json'),
  notes: join(dir, 'notes.txt'),
  empty: join(dir, 'empty.txt'),
  folder: join(dir, 'folder'),
  missing: join(dir, 'missing.json'),
};
writeFileSync(files.seed, seedJson);
writeFileSync(files.cut, seedJson.slice(0, seedJson.length >> 1));
writeFileSync(files.notes, 'these are my notes\nabout the server\n');
writeFileSync(files.empty, '');
mkdirSync(files.folder);
/** Where `render` may write: every random `render` line gets `-o` pointing here. */
const svgOut = join(dir, 'out.svg');
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const COMMANDS = ['topology', 'check', 'find', 'matrix', 'iommu-groups', 'render', 'route', 'help', '--help', '-h', 'bogus', '', '-'];
const OPTIONS = [
  '--provider', '--client', '--endpoint', '--from', '--to', '--bar', '--offset', '--bytes', '--address', '--path',
  '--policy', '--json', '--iommu', '--cpu', '--cmdline', '--', '-x', '--json=1', '--bar=7', '--policy=v3', '--client=03:00.0,06:00.0',
];
const VALUES = ['v2', 'upstream', 'on', 'off', 'amd-zen', 'intel', 'other', 'bus', 'cpu', '0', '5', '6', '-1', '0x10', '4096', '99999999999999999999', 'NaN', '1e3', 'pci=disable_acs_redir=0000:02:08.0', 'iommu=pt', '03:00.0,06:00.0', ',', '03:00.0,'];
const BDFS = ['03:00.0', '06:00.0', '0000:05:00.0', '02:08.0', '00:00.0', 'ff:1f.7', '10000:00:00.0', '00:00.8', '00:20.0', 'zz:zz.z', '3:0.0', '0000:03:00.0 ', 'ffff:ff:1f.7'];
const TOPOLOGIES = [
  ...builtinNames().map((n) => `builtin:${n}`),
  'builtin:nope',
  'builtin:',
  'builtin',
  ...Object.values(files),
  ...lspciFixtureNames().map((n) => join(sharedFixturesDir, 'lspci', `${n}.txt`)),
];
/** Random words, control characters and newlines included. */
const garbage = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 8 }), fc.constantFrom('\n', 'a\nb', '\r\n', '\t', '\u0000', ' ', 'é', '"', "'"));

const word = fc.oneof(
  { weight: 3, arbitrary: fc.constantFrom(...OPTIONS) },
  { weight: 2, arbitrary: fc.constantFrom(...VALUES) },
  { weight: 3, arbitrary: fc.constantFrom(...BDFS) },
  { weight: 2, arbitrary: fc.constantFrom(...TOPOLOGIES) },
  { weight: 1, arbitrary: garbage },
);
const argvArb = fc
  .tuple(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...COMMANDS) }, { weight: 1, arbitrary: garbage }), fc.option(fc.constantFrom(...TOPOLOGIES), { nil: undefined }), fc.array(word, { maxLength: 8 }))
  .map(([command, topo, rest]) => {
    const argv = [command, ...(topo === undefined ? [] : [topo]), ...rest];
    if (command !== 'render') return argv;
    // render writes a file: take every output option away and point it at the temporary folder.
    return [...argv.filter((w) => w !== '-o' && !w.startsWith('--out') && !w.startsWith('--o=')), '-o', svgOut];
  });

/** Options with values that mostly fit, so runs get past the parser into loading, booting and answering. */
const bdf = fc.constantFrom(...BDFS);
const OPTION_VALUES: Record<string, fc.Arbitrary<string[]>> = {
  provider: fc.array(bdf, { minLength: 1, maxLength: 2 }),
  client: fc.array(bdf, { minLength: 1, maxLength: 3 }),
  endpoint: fc.array(bdf, { minLength: 1, maxLength: 3 }),
  from: bdf.map((b) => [b]),
  to: bdf.map((b) => [b]),
  bar: fc.constantFrom('0', '2', '4', '5', '6', '-1', '0x1', 'x').map((v) => [v]),
  offset: fc.oneof(fc.constantFrom('0', '4096', '0x100000', '281474976710656', '-5', 'big'), fc.nat().map(String)).map((v) => [v]),
  bytes: fc.constantFrom('1', '512', '4096', '67108864', '67108865', '0', 'NaN').map((v) => [v]),
  address: fc.constantFrom('bus', 'cpu', 'both').map((v) => [v]),
  path: fc.tuple(bdf, bdf).map(([a, b]) => [`${a},${b}`]),
  policy: fc.constantFrom('v2', 'upstream', 'v3').map((v) => [v]),
  iommu: fc.constantFrom('on', 'off', 'maybe').map((v) => [v]),
  cpu: fc.constantFrom('amd-zen', 'intel', 'other', 'arm').map((v) => [v]),
  cmdline: fc.constantFrom('pci=disable_acs_redir=0000:02:08.0', 'pci=disable_acs_redir=zz', 'iommu=pt', '', 'pci=config_acs=10x@pci:8086:6f08').map((v) => [v]),
  json: fc.constant([]),
};
/** Each command's own options; the first ones listed are those it requires. */
const COMMAND_OPTIONS: Record<string, { required: string[]; optional: string[] }> = {
  topology: { required: [], optional: [] },
  'iommu-groups': { required: [], optional: [] },
  check: { required: ['provider', 'client'], optional: [] },
  find: { required: ['client'], optional: ['provider'] },
  matrix: { required: [], optional: ['endpoint'] },
  render: { required: [], optional: ['path'] },
  route: { required: ['from', 'to'], optional: ['bar', 'offset', 'bytes', 'address'] },
};
const COMMON_OPTIONS = ['policy', 'iommu', 'cpu', 'cmdline', 'json'];
const optionArb = (name: string): fc.Arbitrary<string[]> => OPTION_VALUES[name]!.map((v) => [`--${name}`, ...v]);
const structuredArb = fc
  .constantFrom(...Object.keys(COMMAND_OPTIONS))
  .chain((command) => {
    const { required, optional } = COMMAND_OPTIONS[command]!;
    const extra = [...optional, ...COMMON_OPTIONS];
    return fc.tuple(
      fc.constant(command),
      fc.oneof({ weight: 3, arbitrary: fc.constantFrom(...builtinNames().map((n) => `builtin:${n}`)) }, { weight: 1, arbitrary: fc.constantFrom(...TOPOLOGIES) }),
      // Required options are usually there (dropped one time in eight).
      fc.tuple(...required.map((n) => fc.oneof({ weight: 7, arbitrary: optionArb(n) }, { weight: 1, arbitrary: fc.constant([] as string[]) }))),
      fc.uniqueArray(fc.constantFrom(...extra), { maxLength: 3 }).chain((names) => (names.length === 0 ? fc.constant([] as string[][]) : fc.tuple(...names.map(optionArb)))),
      // A stray word one time in seven.
      fc.oneof({ weight: 6, arbitrary: fc.constant([] as string[]) }, { weight: 1, arbitrary: word.map((w) => [w]) }),
    );
  })
  .map(([command, topo, req, more, stray]) => {
    const argv = [command, topo, ...req.flat(), ...more.flat(), ...stray];
    if (command !== 'render') return argv;
    return [...argv.filter((w) => w !== '-o' && !w.startsWith('--out') && !w.startsWith('--o=')), '-o', svgOut];
  });

/** The exit-code and output contract of `main`. */
function checkRun(argv: string[]): void {
  const r = run(...argv);
  expect([EXIT_OK, EXIT_NO, EXIT_USAGE]).toContain(r.code);
  if (r.code === EXIT_USAGE) {
    expect(r.out).toBe('');
    expect(r.err.endsWith('\n')).toBe(true);
    expect(r.err.slice(0, -1)).not.toMatch(/[\n\r]/);
    expect(r.err.startsWith('p2pdma: ')).toBe(true);
  } else {
    expect(r.err).toBe('');
  }
}

describe('main on hostile argv: never throws; exit 0, 1 or 2; exit 2 prints exactly one stderr line and no stdout (issue 9)', () => {
  test('random argv from the command vocabulary, BDF-ish words, builtins, files and garbage', () => {
    fc.assert(
      fc.property(argvArb, (argv) => checkRun(argv)),
      { seed: 42, numRuns: 300 },
    );
  });

  test('commands with a topology and mostly well-formed options (boots machines, answers 0 or 1, or refuses with 2)', () => {
    fc.assert(
      fc.property(structuredArb, (argv) => checkRun(argv)),
      { seed: 44, numRuns: 400 },
    );
  });

  test('fully random argv (arbitrary strings)', () => {
    fc.assert(
      fc.property(
        fc.array(garbage, { maxLength: 6 }).filter((a) => a[0] !== 'render'),
        (argv) => checkRun(argv),
      ),
      { seed: 43, numRuns: 300 },
    );
  });
});

describe('regressions found by the hostile-args property', () => {
  test('no arguments at all: one usage line on stderr, nothing on stdout, exit 2 (was: the whole usage text on stdout)', () => {
    expect(run()).toEqual({ code: EXIT_USAGE, out: '', err: "p2pdma: missing command (try: p2pdma help)\n" });
  });

  test('a newline inside an argument is escaped, so the error stays one line', () => {
    expect(run('a\nb')).toEqual({ code: EXIT_USAGE, out: '', err: "p2pdma: unknown command 'a\\nb' (try: p2pdma help)\n" });
    expect(run('topology', 'builtin:x\r\ny')).toEqual({ code: EXIT_USAGE, out: '', err: "p2pdma: unknown builtin 'x\\r\\ny' (known: " + builtinNames().join(', ') + ')\n' });
  });
});
