/**
 * The `p2pdma` command over the packages below it: `topology` and `route` on every built-in and
 * every real lspci fixture, JSON that matches the library's own answers, and the error contract
 * (one line on stderr, exit code 2, nothing on stdout).
 */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kernel } from '@p2pdma/kernel';
import { builtinNames, enumerate, getBuiltin, kernelOptionsForTopology, pciReadConfigWord, PCI_ACS_CTRL } from '@p2pdma/pci-core';
import { lspciFixtureNames, readLspciFixture, repoRoot, sharedFixturesDir } from '@p2pdma/test-utils';
import { describe, expect, test } from 'vitest';
import { EXIT_NO, EXIT_OK, EXIT_USAGE, type RouteJson, type TopologyJson } from '../src/index';
import { run } from './helpers';


describe('p2pdma topology', () => {
  for (const name of builtinNames()) {
    test(`builtin:${name} --json lists exactly the enumerated functions with their ACS control read from config space`, () => {
      const r = run('topology', `builtin:${name}`, '--json');
      expect(r.code).toBe(EXIT_OK);
      expect(r.err).toBe('');
      const t = JSON.parse(r.out) as TopologyJson;
      expect(t.schema).toBe('p2pdma-cli/topology/v1');
      // The library's answer, computed independently of the command.
      const spec = getBuiltin(name)!;
      const k = new Kernel({ ...kernelOptionsForTopology(spec), policy: 'upstream' });
      const sys = enumerate(k, spec);
      if ('error' in sys) throw new Error(sys.error.message);
      expect(t.devices.map((d) => d.bdf)).toEqual(sys.devices().map((d) => d.name));
      for (const dev of sys.devices()) {
        const j = t.devices.find((d) => d.bdf === dev.name)!;
        expect(j.parent).toBe(dev.pciBus.self ? dev.pciBus.self.name : null);
        if (dev.acsCap) {
          const ctrl = pciReadConfigWord(dev, dev.acsCap + PCI_ACS_CTRL);
          expect(j.acs!.ctrl.length).toBe([...ctrl.toString(2)].filter((c) => c === '1').length);
        } else {
          expect(j.acs).toBeNull();
        }
      }
    });
  }

  test('seed-switch text output shows the switch, the four roles and the p2pmem candidates', () => {
    const r = run('topology', 'builtin:seed-switch');
    expect(r.code).toBe(EXIT_OK);
    expect(r.out).toContain('upstream port [10b5:8747]');
    for (const role of ['rnic', 'nvme', 'p2pmem']) expect(r.out).toContain(` ${role} `);
    expect(r.out.match(/p2pmem candidate/g)?.length).toBe(2);
  });

  test('--policy v2 and --iommu on are reported in the JSON', () => {
    const t = JSON.parse(run('topology', 'builtin:root-ports', '--json', '--policy', 'v2', '--iommu', 'on').out) as TopologyJson;
    expect(t.policy).toBe('v2');
    expect(t.iommu).toBe(true);
    expect(t.devices.some((d) => d.iommuGroup !== null)).toBe(true);
  });

  for (const name of lspciFixtureNames()) {
    test(`real lspci dump ${name} loads from a file and prints its tree`, () => {
      const r = run('topology', join(sharedFixturesDir, 'lspci', `${name}.txt`), '--json');
      expect(r.err).toBe('');
      expect(r.code).toBe(EXIT_OK);
      const t = JSON.parse(r.out) as TopologyJson;
      expect(t.devices.length).toBeGreaterThan(3);
      expect(readLspciFixture(name)).toContain(t.devices[0]!.bdf.slice(5));
    });
  }
});

describe('p2pdma route (DESIGN section 4: every byte routed by address)', () => {
  test('same switch: the DMA crosses only the two endpoint links and lands', () => {
    const r = run('route', 'builtin:seed-switch', '--from', '03:00.0', '--to', '06:00.0', '--json');
    expect(r.code).toBe(EXIT_OK);
    const j = JSON.parse(r.out) as RouteJson;
    expect(j.landed).toBe(true);
    expect(j.bar).toBe(4);
    expect(j.rootComplexBytes).toBe(0);
    expect(j.dramBytes).toBe(0);
    expect(j.links).toEqual([
      { link: '0000:03:00.0', upBytes: 4096, downBytes: 0 },
      { link: '0000:06:00.0', upBytes: 0, downBytes: 4096 },
    ]);
  });

  test('ACS Request Redirect on the ingress port sends the same DMA through the root complex', () => {
    const j = JSON.parse(run('route', 'builtin:acs-redirect', '--from', '03:00.0', '--to', '04:00.0', '--json').out) as RouteJson;
    expect(j.landed).toBe(true);
    expect(j.rootComplexBytes).toBeGreaterThan(0);
    expect(j.links.find((l) => l.link === '0000:01:00.0')).toEqual({ link: '0000:01:00.0', upBytes: 4096, downBytes: 4096 });
  });

  test('with the IOMMU on, the redirected DMA to an unmapped bus address faults and does not land (exit 1)', () => {
    const r = run('route', 'builtin:acs-redirect', '--from', '03:00.0', '--to', '04:00.0', '--iommu', 'on', '--json');
    expect(r.code).toBe(EXIT_NO);
    const j = JSON.parse(r.out) as RouteJson;
    expect(j.status).toBe('iommu-fault');
    expect(j.landed).toBe(false);
  });
});

describe('bad input: one line naming the problem, exit 2, nothing on stdout', () => {
  const dir = mkdtempSync(join(tmpdir(), 'p2pdma-cli-'));
  const notTopology = join(dir, 'notes.txt');
  writeFileSync(notTopology, 'these are my notes about the server\n');
  const cases: Array<[string, string[], RegExp]> = [
    ['unknown builtin', ['topology', 'builtin:nope'], /unknown builtin 'nope' \(known: /],
    ['unreadable file', ['topology', join(dir, 'missing.json')], /cannot read '.*missing\.json': no such file/],
    ['unknown BDF', ['route', 'builtin:seed-switch', '--from', '09:00.0', '--to', '06:00.0'], /unknown device '0000:09:00\.0'/],
    ['malformed BDF', ['route', 'builtin:seed-switch', '--from', 'zz', '--to', '06:00.0'], /--from: 'zz' is not a PCI address/],
    ['option in the wrong place', ['--json', 'topology', 'builtin:seed-switch'], /option '--json' comes before the command/],
    ['unknown option', ['topology', 'builtin:seed-switch', '--colour'], /unknown option '--colour'/],
    ['bad policy', ['topology', 'builtin:seed-switch', '--policy', 'v3'], /--policy' must be one of v2, upstream/],
    ['missing topology', ['topology'], /missing <topology>/],
    ['neither JSON nor lspci', ['topology', notTopology], /is neither topology JSON nor lspci output/],
  ];
  for (const [what, argv, re] of cases) {
    test(what, () => {
      const r = run(...argv);
      expect(r.code).toBe(EXIT_USAGE);
      expect(r.out).toBe('');
      expect(r.err).toMatch(re);
      expect(r.err.trimEnd().split('\n')).toHaveLength(1);
    });
  }
});

describe('the built binary', () => {
  const bin = join(repoRoot, 'packages', 'cli', 'dist', 'bin.js');
  test('runs from node with the same output and exit codes as main()', () => {
    const out = execFileSync(process.execPath, [bin, 'topology', 'builtin:cascade'], { encoding: 'utf8' });
    expect(out).toBe(run('topology', 'builtin:cascade').out);
    const bad = spawnSync(process.execPath, [bin, 'topology', 'builtin:nope'], { encoding: 'utf8' });
    expect(bad.status).toBe(EXIT_USAGE);
    expect(bad.stdout).toBe('');
    expect(bad.stderr.trimEnd().split('\n')).toHaveLength(1);
  });
});
