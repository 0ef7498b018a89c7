/**
 * Bad input (issue 7, "Must show"): an unknown BDF, an unknown builtin, an unreadable file, an
 * lspci dump without bridges, an option in the wrong place. Each is exactly one line on stderr
 * naming the problem, exit code 2, and nothing at all on stdout.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { builtinNames } from '@p2pdma/pci-core';
import { lspciFixtureNames, readLspciFixture, sharedFixturesDir } from '@p2pdma/test-utils';
import { afterAll, describe, expect, test } from 'vitest';
import { EXIT_OK, EXIT_USAGE } from '../src/index';
import { run } from './helpers';

const dir = mkdtempSync(join(tmpdir(), 'p2pdma-bad-input-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const fixture = (name: string) => join(sharedFixturesDir, 'lspci', `${name}.txt`);
const KNOWN_BUILTINS = builtinNames().join(', ');

/** The contract: exit 2, stdout empty, stderr exactly `p2pdma: <message>\n`. */
function expectUsageError(argv: string[], message: string): void {
  const r = run(...argv);
  expect(r).toEqual({ code: EXIT_USAGE, out: '', err: `p2pdma: ${message}\n` });
}

/**
 * A real dump with every bridge record deleted (host, PCI, ISA... bridges: any function whose
 * class name ends in "bridge"): the endpoints are left on buses that nothing connects.
 */
function stripBridges(text: string): string {
  const records = text.split(/\n[ \t]*\n/);
  const isBridge = (r: string) => /^(?:[0-9a-f]{4,5}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7] [^:\n]*bridge\b[^:\n]*:/i.test(r.trimStart());
  const kept = records.filter((r) => !isBridge(r));
  // The test is only meaningful when bridges were there to delete.
  expect(kept.length).toBeLessThan(records.length);
  return kept.join('\n\n');
}

describe('unknown BDF: names the option, the full address and the topology', () => {
  test.each<[string, string[], string]>([
    ['check --provider on a builtin', ['check', 'builtin:seed-switch', '--provider', '09:00.0', '--client', '03:00.0'], "provider '0000:09:00.0' is not a function of topology 'seed-switch'"],
    ['check --client (second of two) on a builtin', ['check', 'builtin:seed-switch', '--provider', '06:00.0', '--client', '03:00.0', '0a:00.0'], "client '0000:0a:00.0' is not a function of topology 'seed-switch'"],
    ['check on a real lspci dump', ['check', fixture('dell-13g-2s-e5v4-p100'), '--provider', '99:00.0', '--client', '04:00.0'], `provider '0000:99:00.0' is not a function of topology '${fixture('dell-13g-2s-e5v4-p100')}'`],
    ['find --client', ['find', 'builtin:seed-switch', '--client', '0f:00.0'], "client '0000:0f:00.0' is not a function of topology 'seed-switch'"],
    ['matrix --endpoint', ['matrix', 'builtin:cascade', '--endpoint', '0001:03:00.0'], "endpoint '0001:03:00.0' is not a function of topology 'cascade'"],
    ['route --to', ['route', 'builtin:seed-switch', '--from', '03:00.0', '--to', '0000:07:00.0'], "unknown device '0000:07:00.0'"],
    ['a word that is no PCI address', ['check', 'builtin:seed-switch', '--provider', '06:00.9', '--client', '03:00.0'], "--provider: '06:00.9' is not a PCI address (expected [dddd:]bb:dd.f)"],
  ])('%s', (_what, argv, message) => {
    if (argv[0] === 'route') {
      // route's message comes from the machine (pci_get_domain_bus_and_slot finds nothing).
      const r = run(...argv);
      expect(r.code).toBe(EXIT_USAGE);
      expect(r.out).toBe('');
      expect(r.err).toContain(message);
      expect(r.err.trimEnd().split('\n')).toHaveLength(1);
    } else expectUsageError(argv, message);
  });
});

describe('unknown builtin: every command that takes a topology names it and lists the known ones', () => {
  const argvOf: Record<string, string[]> = {
    topology: [],
    check: ['--provider', '03:00.0', '--client', '04:00.0'],
    find: ['--client', '03:00.0'],
    matrix: [],
    'iommu-groups': [],
    render: ['-o', join(dir, 'never.svg')],
    route: ['--from', '03:00.0', '--to', '04:00.0'],
  };
  for (const [command, extra] of Object.entries(argvOf)) {
    test(`${command} builtin:seed-swich`, () => {
      expectUsageError([command, 'builtin:seed-swich', ...extra], `unknown builtin 'seed-swich' (known: ${KNOWN_BUILTINS})`);
    });
  }
  test('simulate builtin:nope names the known scenarios', () => {
    expectUsageError(['simulate', 'builtin:nope'], "simulate: unknown scenario 'builtin:nope' (known: builtin:nvmf-p2p-offload)");
  });
});

describe('unreadable file', () => {
  test('a path that does not exist', () => {
    const f = join(dir, 'no-such-dump.txt');
    expectUsageError(['check', f, '--provider', '03:00.0', '--client', '04:00.0'], `cannot read '${f}': no such file`);
  });
  test('a directory', () => {
    expectUsageError(['matrix', dir], `cannot read '${dir}': is a directory`);
  });
  test('a file that is neither topology JSON nor lspci output', () => {
    const f = join(dir, 'notes.txt');
    writeFileSync(f, 'rack 4, slot 2: the NVMe box\n');
    expectUsageError(['topology', f], `'${f}' is neither topology JSON nor lspci output`);
  });
});

describe('an lspci dump without bridges (a real dump with every bridge record deleted)', () => {
  test('dell-13g-2s-e5v4-p100 without its bridges: the first orphaned endpoint and the count of the others', () => {
    const f = join(dir, 'dell-no-bridges.txt');
    writeFileSync(f, stripBridges(readLspciFixture('dell-13g-2s-e5v4-p100')));
    const message = `'${f}': no bridge in the dump connects bus 0000:01, where endpoint 0000:01:00.0 sits (nor 7 other buses with endpoints): the dump lacks the PCI bridges above its devices; save the whole 'lspci -vvv -nn' output`;
    for (const argv of [['topology', f], ['check', f, '--provider', '04:00.0', '--client', '82:00.0'], ['matrix', f, '--json']]) expectUsageError(argv, message);
  });

  test('power9-phb4-arc-b580 without its bridges (PHB root ports and the GPU card switch deleted)', () => {
    const f = join(dir, 'power9-no-bridges.txt');
    writeFileSync(f, stripBridges(readLspciFixture('power9-phb4-arc-b580')));
    expectUsageError(
      ['topology', f],
      `'${f}': no bridge in the dump connects bus 0001:01, where endpoint 0001:01:00.0 sits (nor 4 other buses with endpoints): the dump lacks the PCI bridges above its devices; save the whole 'lspci -vvv -nn' output`,
    );
  });

  test('every real fixture, bridges kept, still loads (the refusal is about missing bridges, not excerpts)', () => {
    for (const name of lspciFixtureNames()) expect(run('topology', fixture(name), '--json').code, name).toBe(EXIT_OK);
  });
});

describe('an option in the wrong place', () => {
  test.each<[string, string[], string]>([
    ['--json before the command', ['--json', 'topology', 'builtin:seed-switch'], "option '--json' comes before the command: options go after the command and its operand (p2pdma <command> <topology> --json)"],
    ['--policy=v2 before the command', ['--policy=v2', 'check', 'builtin:seed-switch'], "option '--policy=v2' comes before the command: options go after the command and its operand (p2pdma <command> <topology> --policy=v2)"],
    ['an option no command has, before the command', ['--colour', 'matrix'], "unknown option '--colour' before the command (try: p2pdma help)"],
    ['a check option given to matrix', ['matrix', 'builtin:seed-switch', '--provider', '06:00.0'], "matrix: option '--provider' is not a matrix option (it belongs to check, find)"],
    ['a matrix option given to check', ['check', 'builtin:seed-switch', '--provider', '06:00.0', '--client', '03:00.0', '--endpoint', '04:00.0'], "check: option '--endpoint' is not a check option (it belongs to matrix)"],
    ['a route option given to render', ['render', 'builtin:seed-switch', '-o', join(dir, 'x.svg'), '--from', '03:00.0'], "render: option '--from' is not a render option (it belongs to route)"],
    ['a topology option given to simulate', ['simulate', 'builtin:nvmf-p2p-offload', '--iommu', 'on'], "simulate: option '--iommu' is not a simulate option (it belongs to topology, check, find, matrix, iommu-groups, render, route)"],
    ['an option no command has', ['topology', 'builtin:seed-switch', '--colour'], "topology: unknown option '--colour'"],
  ])('%s', (_what, argv, message) => expectUsageError(argv, message));
});
