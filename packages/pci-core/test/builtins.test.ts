// Built-in machines: the seed series' switch machine (patch 01's "behind the same switch"
// requirement), root-port and two-host-bridge machines for the upstream distance/whitelist
// rules, and an ACS-redirect switch for pci=disable_acs_redir=.
import { describe, expect, it } from 'vitest';
import { builtinNames, builtinTopologies, getBuiltin } from '../src/builtins';
import type { DeviceSpec, TopologySpec } from '../src/topology-spec';
import { deriveTree, validateTopologySpec } from '../src/topology-validate';

function byRole(spec: TopologySpec): Record<string, DeviceSpec> {
  const out: Record<string, DeviceSpec> = {};
  for (const d of spec.devices) {
    if (!d.role) continue;
    const key = d.role === 'nvme' ? (d.nvme?.cmb ? 'nvme-cmb' : 'nvme') : d.role;
    out[key] = d;
  }
  return out;
}

/** The chain of ancestors of a function, nearest first. */
function ancestors(spec: TopologySpec, bdf: string): string[] {
  const tree = deriveTree(spec);
  const out: string[] = [];
  for (let p = tree.parentOf.get(bdf); p?.kind === 'bridge'; p = tree.parentOf.get(p.bdf)) out.push(p.bdf);
  return out;
}

describe('built-in topologies', () => {
  it('lists the required built-ins', () => {
    expect(builtinNames()).toEqual(['acs-redirect', 'cascade', 'dual-host-bridge', 'dual-host-bridge-unlisted', 'root-ports', 'seed-switch']);
  });

  it.each(builtinNames())('%s validates and has a one-sentence description', (name) => {
    const spec = getBuiltin(name)!;
    const r = validateTopologySpec(spec);
    expect(r.ok).toBe(true);
    expect(spec.name).toBe(name);
    const desc = builtinTopologies[name]!.description;
    expect(desc).toMatch(/^[A-Z].*\.$/);
    expect(desc.split('. ')).toHaveLength(1);
    // Every built-in carries the four roles with real IDs.
    const roles = byRole(spec);
    expect(Object.keys(roles).sort()).toEqual(['nvme', 'nvme-cmb', 'p2pmem', 'rnic']);
    expect(roles['rnic']).toMatchObject({ vendor: 0x15b3, device: 0x1017, bars: [{ index: 0, size: 32 << 20, is64: true, prefetchable: true }] });
    expect(roles['nvme-cmb']!.nvme!.cmb!.flags).toEqual(expect.arrayContaining(['WDS', 'RDS']));
    expect(roles['nvme-cmb']!.bars![0]).toMatchObject({ index: 0, size: 16 * 1024 });
    expect(roles['p2pmem']).toMatchObject({ vendor: 0x1de5, device: 0x1000, p2pmem: { bar: 4 } });
    expect(roles['p2pmem']!.bars).toContainEqual({ index: 4, size: 256 << 20, kind: 'mem', is64: true, prefetchable: true });
  });

  it('getBuiltin returns a fresh copy, and null for an unknown name', () => {
    const a = getBuiltin('seed-switch')!;
    a.devices.length = 0;
    expect(getBuiltin('seed-switch')!.devices.length).toBeGreaterThan(0);
    expect(getBuiltin('no-such-machine')).toBeNull();
    expect(getBuiltin('toString')).toBeNull();
  });
});

describe('seed-switch', () => {
  const spec = getBuiltin('seed-switch')!;

  it('has the four roles behind one switch under one root port', () => {
    const roles = byRole(spec);
    const chains = Object.values(roles).map((d) => ancestors(spec, d.bdf));
    // Each endpoint: own downstream port, then the same upstream port, then the same root port.
    const ports = new Set(chains.map((c) => c[0]));
    expect(ports.size).toBe(4);
    for (const c of chains) expect(c.slice(1)).toEqual(['0000:01:00.0', '0000:00:03.0']);
    const byBdf = new Map(spec.devices.map((d) => [d.bdf, d]));
    expect(byBdf.get('0000:01:00.0')!.pcie!.portType).toBe('upstream-port');
    expect(byBdf.get('0000:00:03.0')!.pcie!.portType).toBe('root-port');
    for (const p of ports) {
      expect(byBdf.get(p!)!.pcie).toMatchObject({ portType: 'downstream-port', linkGen: 3 });
      expect(byBdf.get(p!)!.acs).toEqual({ cap: ['SV', 'TB', 'RR', 'CR', 'UF', 'DT'], ctrl: [] });
    }
  });

  it('sits on an Intel host bridge that is not in the P2PDMA whitelist', () => {
    expect(spec.devices[0]).toMatchObject({ bdf: '0000:00:00.0', vendor: 0x8086, device: 0x6f00, classCode: 0x060000 });
    expect(spec.cpu).toEqual({ vendor: 'intel', family: 6 });
    expect(spec.hostBridges).toHaveLength(1);
  });
});

describe('the other built-ins', () => {
  it('root-ports: each device on its own root port of one host bridge', () => {
    const spec = getBuiltin('root-ports')!;
    const chains = Object.values(byRole(spec)).map((d) => ancestors(spec, d.bdf));
    for (const c of chains) expect(c).toHaveLength(1);
    expect(new Set(chains.map((c) => c[0])).size).toBe(4);
    expect(spec.hostBridges).toHaveLength(1);
  });

  it('cascade: devices on both switch levels', () => {
    const spec = getBuiltin('cascade')!;
    const roles = byRole(spec);
    expect(ancestors(spec, roles['rnic']!.bdf)).toHaveLength(3);
    expect(ancestors(spec, roles['nvme-cmb']!.bdf)).toHaveLength(5);
    // The lower switch hangs below a downstream port of the upper one.
    const lower = ancestors(spec, roles['p2pmem']!.bdf);
    const upper = ancestors(spec, roles['rnic']!.bdf);
    expect(lower.slice(3)).toEqual(upper.slice(1));
  });

  it('dual-host-bridge: two root buses, whitelisted 8086:2020 on each; the unlisted variant uses 8086:6f00', () => {
    for (const [name, device] of [
      ['dual-host-bridge', 0x2020],
      ['dual-host-bridge-unlisted', 0x6f00],
    ] as const) {
      const spec = getBuiltin(name)!;
      expect(spec.hostBridges.map((h) => [h.domain, h.bus])).toEqual([
        [0, 0x00],
        [0, 0x80],
      ]);
      const tree = deriveTree(spec);
      for (const [i, roots] of tree.rootDevices.entries()) {
        const host = spec.devices[tree.indexOf.get(roots[0]!)!]!;
        expect(host).toMatchObject({ vendor: 0x8086, device, classCode: 0x060000 });
        expect(roots[0]!.endsWith(':00.0')).toBe(true);
        expect(i).toBeLessThan(2);
      }
      const roles = byRole(spec);
      expect(tree.hostBridgeOf.get(roles['rnic']!.bdf)).toBe(0);
      expect(tree.hostBridgeOf.get(roles['nvme-cmb']!.bdf)).toBe(1);
    }
  });

  it('acs-redirect: RR and CR set in the downstream ports ACS control', () => {
    const spec = getBuiltin('acs-redirect')!;
    const ports = spec.devices.filter((d) => d.pcie?.portType === 'downstream-port');
    expect(ports).toHaveLength(4);
    for (const p of ports) expect(p.acs!.ctrl).toEqual(['RR', 'CR']);
    // Otherwise the seed machine.
    const seed = getBuiltin('seed-switch')!;
    expect(spec.devices.map((d) => d.bdf)).toEqual(seed.devices.map((d) => d.bdf));
  });
});
