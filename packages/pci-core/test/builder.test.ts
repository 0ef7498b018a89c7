// The topology builder numbers buses as firmware does before the kernel's pci_scan_bridge sees
// them: depth first, each bridge's secondary the next free bus, its subordinate the highest bus
// below it; functions on a bus in devfn order.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { bar, type LinkBuilder, type NodeRef, type SwitchBuilder, TopologyBuildError, topology } from '../src/builder';
import { deriveTree, validateTopologySpec } from '../src/topology-validate';

const MiB = 1 << 20;

describe('builder: the example from the design', () => {
  const build = () => {
    const refs: Record<string, NodeRef> = {};
    const spec = topology('seed-switch')
      .cpu({ vendor: 'intel' })
      .hostBridge({ domain: 0, vendor: 0x8086, device: 0x2020 }, (hb) => {
        refs['rp'] = hb.rootPort('00:01.0', { link: [3, 16] }, (rp) => {
          refs['up'] = rp.switch({ vendor: 0x10b5, device: 0x8747 }, (sw) => {
            refs['dp0'] = sw.port((p) => {
              refs['nic'] = p.endpoint({ role: 'rnic', vendor: 0x15b3, device: 0x1017, bars: [bar.mem64(0, 32 * MiB, true)] });
            });
            refs['dp1'] = sw.port({ acs: { cap: ['SV', 'RR', 'CR'], ctrl: ['RR'] } }, (p) => {
              refs['ssd'] = p.endpoint({ role: 'nvme', vendor: 0x8086, device: 0x0953 });
            });
          });
        });
      })
      .build();
    return { spec, refs };
  };

  it('numbers buses depth first and fills secondary/subordinate', () => {
    const { spec, refs } = build();
    const rows = spec.devices.map((d) => [d.bdf, d.secondaryBus, d.subordinateBus, d.pcie?.portType]);
    expect(rows).toEqual([
      ['0000:00:00.0', undefined, undefined, undefined],
      ['0000:00:01.0', 1, 4, 'root-port'],
      ['0000:01:00.0', 2, 4, 'upstream-port'],
      ['0000:02:00.0', 3, 3, 'downstream-port'],
      ['0000:02:01.0', 4, 4, 'downstream-port'],
      ['0000:03:00.0', undefined, undefined, 'endpoint'],
      ['0000:04:00.0', undefined, undefined, 'endpoint'],
    ]);
    expect(refs['nic']!.bdf).toBe('0000:03:00.0');
    expect(refs['ssd']!.bdf).toBe('0000:04:00.0');
    expect(refs['up']!.busRange).toEqual([2, 4]);
    expect(refs['nic']!.busRange).toBeNull();
  });

  it('creates the 00.0 host bridge function and copies every field', () => {
    const { spec } = build();
    expect(spec.devices[0]).toEqual({ bdf: '0000:00:00.0', vendor: 0x8086, device: 0x2020, headerType: 0, classCode: 0x060000 });
    expect(spec.devices[1]!.pcie).toEqual({ portType: 'root-port', linkGen: 3, linkWidth: 16 });
    expect(spec.devices[4]!.acs).toEqual({ cap: ['SV', 'RR', 'CR'], ctrl: ['RR'] });
    // Downstream ports inherit the switch's IDs.
    expect(spec.devices[3]).toMatchObject({ vendor: 0x10b5, device: 0x8747, classCode: 0x060400, headerType: 1 });
    expect(spec.devices[5]).toMatchObject({ role: 'rnic', classCode: 0x020000, bars: [{ index: 0, size: 32 * MiB, kind: 'mem', is64: true, prefetchable: true }] });
    expect(spec.devices[6]).toMatchObject({ role: 'nvme', classCode: 0x010802 });
    expect(spec.cpu).toEqual({ vendor: 'intel' });
    expect(validateTopologySpec(spec).ok).toBe(true);
  });

  it('returns a fresh spec on every build', () => {
    const a = build().spec;
    const b = build().spec;
    expect(a).toEqual(b);
    a.devices[5]!.bars![0]!.size = 1;
    expect(b.devices[5]!.bars![0]!.size).toBe(32 * MiB);
  });
});

describe('builder: multi-function devices, SR-IOV, integrated functions', () => {
  it('places functions of one device and SR-IOV VFs with physfn', () => {
    let pf: NodeRef | undefined;
    const spec = topology('mf')
      .hostBridge({ vendor: 0x8086, device: 0x6f00 }, (hb) => {
        hb.endpoint({ slot: 0x14, label: 'xHCI', classCode: 0x0c0330 });
        hb.rootPort({ link: [3, 8] }, (rp) => {
          pf = rp.endpoint({
            role: 'rnic',
            vendor: 0x15b3,
            device: 0x1017,
            bars: [bar.mem64(0, 32 * MiB, true)],
            sriov: { vfs: 3, offset: 4, stride: 1, vfDevice: 0x1018, vfBars: [bar.mem64(0, 1 * MiB, true)] },
          });
          rp.endpoint({ role: 'rnic', vendor: 0x15b3, device: 0x1017 });
        });
      })
      .build();
    expect(spec.devices.map((d) => d.bdf)).toEqual([
      '0000:00:00.0',
      '0000:00:01.0',
      '0000:00:14.0',
      '0000:01:00.0',
      '0000:01:00.1',
      '0000:01:00.4',
      '0000:01:00.5',
      '0000:01:00.6',
    ]);
    expect(pf!.vfBdfs).toEqual(['0000:01:00.4', '0000:01:00.5', '0000:01:00.6']);
    expect(spec.devices[5]).toMatchObject({ physfn: '0000:01:00.0', device: 0x1018, role: 'rnic', bars: [{ index: 0, size: MiB }] });
    expect(spec.devices[2]!.pcie).toEqual({ portType: 'rc-endpoint' });
  });

  it('gives the next host bridge in a domain the buses above the previous one', () => {
    const spec = topology('two')
      .hostBridge({ bus: 0x80 }, (hb) => hb.rootPort((rp) => rp.endpoint()))
      .hostBridge({ bus: 0 }, (hb) => hb.rootPort((rp) => rp.endpoint()))
      .build();
    expect(spec.hostBridges).toEqual([
      { domain: 0, bus: 0, busEnd: 0x7f },
      { domain: 0, bus: 0x80, busEnd: 0xff },
    ]);
    expect(spec.devices.map((d) => d.bdf)).toEqual(['0000:00:01.0', '0000:01:00.0', '0000:80:01.0', '0000:81:00.0']);
  });
});

describe('builder: usage errors throw TopologyBuildError', () => {
  it('two functions at one address', () => {
    expect(() =>
      topology('t').hostBridge({ vendor: 0x8086, device: 0x6f00 }, (hb) => {
        hb.rootPort('00:01.0');
        hb.rootPort('01.0');
      }),
    ).toThrow(new TopologyBuildError("t: root port at 01.0 on the root bus of host bridge 0000:00 collides with root port at 01.0"));
  });

  it('a switch on a link that already holds an endpoint', () => {
    expect(() =>
      topology('t').hostBridge({}, (hb) =>
        hb.rootPort((rp) => {
          rp.endpoint();
          rp.switch({}, () => {});
        }),
      ),
    ).toThrow(/needs the link to itself, but endpoint at 00.0 is there/);
  });

  it('a VF colliding with another function', () => {
    const b = topology('t').hostBridge({}, (hb) =>
      hb.rootPort((rp) => {
        rp.endpoint({ sriov: { vfs: 2 } });
        rp.endpoint();
      }),
    );
    expect(() => b.build()).toThrow(/t: VF 0 of 0000:01:00.0 collides with endpoint at 00.1/);
  });

  it('running out of bus numbers', () => {
    const b = topology('t').hostBridge({ busEnd: 1 }, (hb) => {
      hb.rootPort();
      hb.rootPort();
    });
    expect(() => b.build()).toThrow(/t: out of bus numbers at 0000:00:02.0 \(the host bridge ends at bus 01\)/);
  });

  it('reading a BDF before build, half a host bridge ID, a host bridge declared twice', () => {
    let ref: NodeRef | undefined;
    const b = topology('t').hostBridge({}, (hb) => {
      ref = hb.rootPort();
    });
    expect(() => ref!.bdf).toThrow(TopologyBuildError);
    expect(() => b.hostBridge({}, () => {})).toThrow(/host bridge 0000:00 declared twice/);
    expect(() => topology('u').hostBridge({ vendor: 0x8086 }, () => {})).toThrow(/give both vendor and device/);
    b.build();
    expect(ref!.bdf).toBe('0000:00:01.0');
  });

  it('an invalid description fails validation inside build, listing the errors', () => {
    const b = topology('bad').hostBridge({}, (hb) => hb.rootPort((rp) => rp.endpoint({ bars: [{ index: 0, size: 3000, kind: 'mem' }] })));
    expect(() => b.build()).toThrow(
      "topology 'bad' (builder): invalid topology (1 error)\n  $.devices[1].bars[0].size: must be a power of two, got 0xbb8",
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Property: random trees always validate, and deriveTree reproduces what was built.
// ---------------------------------------------------------------------------------------------

type Shape = { kind: 'endpoint'; fns: number } | { kind: 'switch'; acs: boolean; ports: Array<Shape | null> };

const shapeArb = fc.letrec<{ node: Shape }>((tie) => ({
  node: fc.oneof(
    { maxDepth: 3, depthIdentifier: 'tree' },
    fc.record({ kind: fc.constant('endpoint' as const), fns: fc.integer({ min: 1, max: 3 }) }),
    fc.record({
      kind: fc.constant('switch' as const),
      acs: fc.boolean(),
      ports: fc.array(fc.option(tie('node'), { nil: null }), { minLength: 1, maxLength: 3 }),
    }),
  ),
})).node;

const machineArb = fc.array(
  fc.record({ hostDevice: fc.boolean(), rootPorts: fc.array(fc.option(shapeArb, { nil: null }), { minLength: 1, maxLength: 3 }) }),
  { minLength: 1, maxLength: 3 },
);

interface Built {
  ref: NodeRef;
  children: Built[];
  bridge: boolean;
}

function fill(link: LinkBuilder, shape: Shape | null, out: Built[]): void {
  if (!shape) return;
  if (shape.kind === 'endpoint') {
    for (let f = 0; f < shape.fns; f++) out.push({ ref: link.endpoint({ role: 'other', bars: [bar.mem64(0, 16384)] }), children: [], bridge: false });
    return;
  }
  const node: Built = { ref: undefined as unknown as NodeRef, children: [], bridge: true };
  node.ref = link.switch({ vendor: 0x10b5, device: 0x8747 }, (sw: SwitchBuilder) => {
    for (const port of shape.ports) {
      const p: Built = { ref: undefined as unknown as NodeRef, children: [], bridge: true };
      p.ref = sw.port(shape.acs ? { acs: { cap: ['SV', 'RR', 'CR', 'UF'], ctrl: ['RR', 'CR'] } } : {}, (l) => fill(l, port, p.children));
      node.children.push(p);
    }
  });
  out.push(node);
}

describe('builder property (fast-check)', () => {
  it('random switch trees validate and deriveTree reproduces their structure and DFS numbering', () => {
    fc.assert(
      fc.property(machineArb, (machine) => {
        const roots: Built[][] = [];
        let b = topology('random');
        machine.forEach((m, domain) => {
          const list: Built[] = [];
          b = b.hostBridge(m.hostDevice ? { domain, vendor: 0x8086, device: 0x2020 } : { domain }, (hb) => {
            for (const rp of m.rootPorts) {
              const node: Built = { ref: undefined as unknown as NodeRef, children: [], bridge: true };
              node.ref = hb.rootPort({}, (l) => fill(l, rp, node.children));
              list.push(node);
            }
          });
          roots.push(list);
        });
        const spec = b.build();
        expect(validateTopologySpec(spec).ok).toBe(true);
        const tree = deriveTree(spec);

        roots.forEach((list, hbIndex) => {
          const host = machine[hbIndex]!.hostDevice ? [`${hbIndex.toString(16).padStart(4, '0')}:00:00.0`] : [];
          expect(tree.rootDevices[hbIndex]).toEqual([...host, ...list.map((n) => n.ref.bdf)]);
          // Depth-first preorder of bridges gets secondary buses 1, 2, 3, ... on each host bridge.
          let nextBus = 1;
          const walk = (n: Built, parent: string | null): number => {
            if (parent === null) expect(tree.parentOf.get(n.ref.bdf)).toEqual({ kind: 'host-bridge', index: hbIndex });
            else expect(tree.parentOf.get(n.ref.bdf)).toEqual({ kind: 'bridge', bdf: parent });
            expect(tree.hostBridgeOf.get(n.ref.bdf)).toBe(hbIndex);
            if (!n.bridge) return -1;
            const [sec, sub] = n.ref.busRange!;
            expect(sec).toBe(nextBus++);
            expect(tree.childrenOf.get(n.ref.bdf)).toEqual(n.children.map((c) => c.ref.bdf));
            let max = sec;
            for (const c of n.children) {
              expect(Number.parseInt(c.ref.bdf.split(':')[1]!, 16)).toBe(sec);
              max = Math.max(max, walk(c, n.ref.bdf));
            }
            expect(sub).toBe(max);
            return sub;
          };
          for (const n of list) walk(n, null);
        });
        expect(tree.orphans).toEqual([]);
        expect(tree.cycles).toEqual([]);
        expect(tree.busConflicts).toEqual([]);
      }),
      { seed: 42, numRuns: 200 },
    );
  });
});
