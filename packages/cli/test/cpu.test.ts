/**
 * `--cpu` inference (issue 7: "inferred from host bridge IDs when omitted, and said so"). The
 * upstream rule `cpu_supports_p2pdma` lets any AMD Zen (family 17h+) root complex forward P2P;
 * lspci does not show the CPU, so when `--cpu` is omitted the command infers it from the host
 * bridge's identifying function (`pci_host_bridge_dev`) and says so in text and in `--json`
 * (`cpu: {value, source, basis}`), in check, find, matrix and topology.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { getBuiltin } from '@p2pdma/pci-core';
import { lspciFixtureNames, readLspciFixture, sharedFixturesDir } from '@p2pdma/test-utils';
import { afterAll, describe, expect, test } from 'vitest';
import type { CheckJson, CpuJson, TopologyJson } from '../src/index';
import { EXIT_NO, EXIT_OK, renderCpuLine } from '../src/index';
import { run } from './helpers';

const dir = mkdtempSync(join(tmpdir(), 'p2pdma-cpu-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const fixture = (name: string) => join(sharedFixturesDir, 'lspci', `${name}.txt`);

/** Write a copy of a real dump with its first line (the 00:00.0 host bridge record header) replaced. */
function withHostBridge(name: string, header: string, file: string): string {
  const text = readLspciFixture(name);
  const nl = text.indexOf('\n');
  const f = join(dir, file);
  writeFileSync(f, header + text.slice(nl));
  return f;
}

/** What each real dump's host bridge says (worked out from its first host bridge function). */
const FIXTURE_CPU: Record<string, CpuJson> = {
  // The excerpt has no host bridge: its made-up root bus starts with the ASMedia upstream port.
  'asm1812-4x-rtl8125-excerpt': { value: 'other', source: 'inferred', basis: 'no host bridge function in the input names a CPU vendor' },
  'dell-13g-2s-e5v4-p100': {
    value: 'intel',
    source: 'inferred',
    basis: 'host bridge 0000:00:00.0 (Intel Corporation Xeon E7 v4/Xeon E5 v4/Xeon E3 v4/Xeon D DMI2; no IDs in the input): Intel',
  },
  'dell-adl-tb4dock-vmd-nvme': { value: 'intel', source: 'inferred', basis: 'host bridge 0000:00:00.0 [8086:4641]: Intel' },
  'gpu4-plx8747-nvbugreport': { value: 'intel', source: 'inferred', basis: 'host bridge 0000:00:00.0 [8086:6f00]: Intel' },
  'ibm-x3650m4-2s-e5-nonroot': { value: 'intel', source: 'inferred', basis: 'host bridge 0000:00:00.0 (Intel Corporation Xeon E5/Core i7 DMI2; no IDs in the input): Intel' },
  'laptop-egpu-tb3-2x3090': {
    value: 'intel',
    source: 'inferred',
    basis: 'host bridge 0000:00:00.0 (Intel Corporation 8th Gen Core Processor Host Bridge/DRAM Registers; no IDs in the input): Intel',
  },
  // Each PHB shows up as a root port at dddd:00:00.0 (the identifying function: devfn 00.0).
  'power9-phb4-arc-b580': { value: 'other', source: 'inferred', basis: 'host bridge 0000:00:00.0 (IBM POWER9 Host Bridge (PHB4); no IDs in the input): IBM (POWER)' },
};

describe('inferred from each real dump, reported by topology, check, find and matrix --json', () => {
  test('every fixture has an expectation', () => {
    expect(Object.keys(FIXTURE_CPU).sort()).toEqual(lspciFixtureNames().sort());
  });
  for (const name of lspciFixtureNames()) {
    test(name, () => {
      const f = fixture(name);
      const want = FIXTURE_CPU[name]!;
      const t = JSON.parse(run('topology', f, '--json').out) as TopologyJson;
      expect({ value: t.cpu.value, source: t.cpu.source, basis: t.cpu.basis }).toEqual(want);
      // The booted topology holds what the value means (Zen: amd family 0x17; otherwise no family).
      expect(t.cpu.vendor).toBe(want.value === 'intel' ? 'intel' : 'other');
      expect(t.cpu.family).toBeNull();
      const m = JSON.parse(run('matrix', f, '--json').out);
      expect(m.cpu).toEqual(want);
      // check and find need two functions of the dump: its first two endpoints in matrix order.
      const [a, b] = m.endpoints as string[];
      const c = JSON.parse(run('check', f, '--provider', a!, '--client', b!, '--json').out) as CheckJson;
      expect(c.cpu).toEqual(want);
      const fd = JSON.parse(run('find', f, '--client', a!, '--provider', b!, '--json').out);
      expect(fd.cpu).toEqual(want);
    });
  }
});

describe('an AMD Zen host bridge turns on the upstream AMD rule (cpu_supports_p2pdma)', () => {
  // dell-adl with its Alder Lake host bridge swapped for a Zen 2/3 root complex: the external
  // NVMe 45:00.0 and the VMD NVMe 10000:e1:00.0 are on different host bridges (distance 8); with
  // an Intel CPU that is not supported (4641 is not whitelisted), with AMD Zen it goes through the
  // host bridge.
  const zen = withHostBridge(
    'dell-adl-tb4dock-vmd-nvme',
    '0000:00:00.0 Host bridge [0600]: Advanced Micro Devices, Inc. [AMD] Starship/Matisse Root Complex [1022:1480]',
    'zen-ids.txt',
  );
  const ZEN_CPU: CpuJson = { value: 'amd-zen', source: 'inferred', basis: 'host bridge 0000:00:00.0 [1022:1480]: Zen 2, Zen 3 (Rome, Matisse, Milan, Vermeer)' };
  const pair = ['--provider', '45:00.0', '--client', '10000:e1:00.0'];

  test('by IDs (lspci -nn): inferred amd-zen, and the pair is supported through the host bridge', () => {
    const r = run('check', zen, ...pair, '--json');
    expect(r.code).toBe(EXIT_OK);
    const j = JSON.parse(r.out) as CheckJson;
    expect(j.cpu).toEqual(ZEN_CPU);
    expect(j.clients.map((c) => [c.mapType, c.distance, c.fix])).toEqual([['thru-host-bridge', 8, null]]);
  });

  test('the text output says what was inferred and from what', () => {
    const r = run('check', zen, ...pair);
    expect(r.code).toBe(EXIT_OK);
    expect(r.out.split('\n')[1]).toBe('CPU: AMD Zen (inferred from host bridge 0000:00:00.0 [1022:1480]: Zen 2, Zen 3 (Rome, Matisse, Milan, Vermeer); override with --cpu)');
    for (const argv of [['matrix', zen], ['topology', zen], ['find', zen, '--client', '45:00.0', '--provider', '10000:e1:00.0']]) {
      expect(run(...argv).out.split('\n'), argv[0]).toContain(renderCpuLine(ZEN_CPU));
    }
  });

  test('--cpu intel overrides the inference: not supported, source option', () => {
    const r = run('check', zen, ...pair, '--cpu', 'intel', '--json');
    expect(r.code).toBe(EXIT_NO);
    const j = JSON.parse(r.out) as CheckJson;
    expect(j.cpu).toEqual({ value: 'intel', source: 'option', basis: '--cpu intel' });
    expect(j.clients[0]!.fix).toBe('host bridge 0000:00:00.0 [1022:1480] is not whitelisted for peer-to-peer');
    expect(run('check', zen, ...pair, '--cpu', 'intel').out.split('\n')[1]).toBe('CPU: Intel (--cpu intel)');
  });

  test('by name (lspci without -nn): a Family 17h root complex is Zen', () => {
    const f = withHostBridge('dell-13g-2s-e5v4-p100', '00:00.0 Host bridge: Advanced Micro Devices, Inc. [AMD] Family 17h (Models 00h-0fh) Root Complex', 'zen-names.txt');
    const j = JSON.parse(run('check', f, '--provider', '04:00.0', '--client', '02:00.0', '--json').out) as CheckJson;
    expect(j.cpu).toEqual({
      value: 'amd-zen',
      source: 'inferred',
      basis: 'host bridge 0000:00:00.0 (Advanced Micro Devices, Inc. [AMD] Family 17h (Models 00h-0fh) Root Complex; no IDs in the input): Zen, Zen+ (Summit Ridge, Pinnacle Ridge, Naples, Threadripper 1000/2000)',
    });
    expect(j.supported).toBe(true);
    expect(j.clients[0]!.mapType).toBe('thru-host-bridge');
  });

  test('an AMD root complex that is not Zen (Family 15h, [1022:1410]) is "other": the rule does not apply', () => {
    const f = withHostBridge(
      'dell-adl-tb4dock-vmd-nvme',
      '0000:00:00.0 Host bridge [0600]: Advanced Micro Devices, Inc. [AMD] Family 15h (Models 10h-1fh) Processor Root Complex [1022:1410]',
      'pre-zen.txt',
    );
    const r = run('check', f, ...pair, '--json');
    expect(r.code).toBe(EXIT_NO);
    expect((JSON.parse(r.out) as CheckJson).cpu).toEqual({ value: 'other', source: 'inferred', basis: 'host bridge 0000:00:00.0 [1022:1410]: AMD, not a root complex known to be Zen' });
  });
});

describe('built-ins and topology JSON', () => {
  test('a built-in states its CPU: source topology; --cpu amd-zen overrides it (root-ports becomes supported)', () => {
    const argv = ['check', 'builtin:root-ports', '--provider', '04:00.0', '--client', '01:00.0', '--json'];
    const stated = JSON.parse(run(...argv).out) as CheckJson;
    expect(stated.cpu).toEqual({ value: 'intel', source: 'topology', basis: "the topology's cpu: intel family 0x6" });
    expect(stated.supported).toBe(false);
    const amd = JSON.parse(run(...argv, '--cpu', 'amd-zen').out) as CheckJson;
    expect(amd.cpu).toEqual({ value: 'amd-zen', source: 'option', basis: '--cpu amd-zen' });
    expect(amd.supported).toBe(true);
    expect(run('topology', 'builtin:root-ports').out.split('\n')[1]).toBe("CPU: Intel (from the topology's cpu: intel family 0x6; override with --cpu)");
  });

  test('a topology JSON that states an AMD Zen CPU reports amd-zen from the topology (asked of p2pdma\'s cpuSupportsP2pdma)', () => {
    const f = join(dir, 'seed-amd.json');
    writeFileSync(f, JSON.stringify({ ...getBuiltin('seed-switch')!, cpu: { vendor: 'amd', family: 0x19 } }));
    expect(JSON.parse(run('matrix', f, '--json').out).cpu).toEqual({ value: 'amd-zen', source: 'topology', basis: "the topology's cpu: amd family 0x19" });
  });

  test('a topology JSON without a cpu is inferred from its host bridge function (seed-switch: 00:00.0 [8086:6f00])', () => {
    const { cpu: _cpu, ...spec } = getBuiltin('seed-switch')!;
    const f = join(dir, 'seed-nocpu.json');
    writeFileSync(f, JSON.stringify(spec));
    const t = JSON.parse(run('topology', f, '--json').out) as TopologyJson;
    expect(t.cpu).toEqual({ value: 'intel', source: 'inferred', basis: 'host bridge 0000:00:00.0 [8086:6f00]: Intel', vendor: 'intel', family: null });
  });
});
