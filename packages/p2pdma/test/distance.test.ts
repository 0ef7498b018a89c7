import type { AcsBitName, PciDev, TopologySpec } from '@p2pdma/pci-core';
import { bar, PCI_ACS_CTRL, PCI_ACS_RR, pciReadConfigWord, pciWriteConfigWord, topology } from '@p2pdma/pci-core';
import { Device, deviceAdd, KernelBug } from '@p2pdma/kernel';
import { describe, expect, it } from 'vitest';
import {
  P2PMEM_FIND_MANY_MAX_CANDIDATES,
  pciP2pdmaCalcMapType,
  pciP2pdmaDistance,
  pciP2pdmaDistanceMany,
  pciP2pdmaMapType,
  pciP2pmemFindMany,
} from '../src/distance';
import { PCI_P2PDMA_MAP_BUS_ADDR, PCI_P2PDMA_MAP_NOT_SUPPORTED, PCI_P2PDMA_MAP_THRU_HOST_BRIDGE } from '../src/map-type';
import { pciP2pdma } from '../src/pci-p2pdma';
import { pciP2pdmaAddResource, pciP2pmemPublish } from '../src/provider';
import { acsRedirList } from '../src/upstream-walk';
import { boot, bootSpec, lines } from './helpers';

const GiB = 2 ** 30;
const MiB = 2 ** 20;
const calc = (p: PciDev, c: PciDev, verbose = false) => pciP2pdmaCalcMapType(p, c, verbose);

interface LabOptions {
  hostDevice?: number;
  cpu?: { vendor: 'amd' | 'intel' | 'other'; family?: number };
  uspAcs?: AcsBitName[];
  dspAcs?: AcsBitName[];
  fnAcs?: AcsBitName[];
}

/**
 * A root port with a switch: DSP 02:00.0 holds a two-function device (03:00.0, 03:00.1), DSP
 * 02:01.0 a single function (04:00.0); a second root port 00:02.0 holds 05:00.0.
 */
function lab(o: LabOptions = {}): TopologySpec {
  const acs = (ctrl: AcsBitName[] | undefined) => (ctrl === undefined ? undefined : { cap: ['SV', 'RR', 'CR', 'UF', 'EC'] as AcsBitName[], ctrl });
  const ep = (fn: number, ctrl?: AcsBitName[]) => {
    const a = acs(ctrl);
    return { vendor: 0x1de5, device: 0x1000, fn, bars: [bar.mem64(0, 4 * MiB, true)], ...(a ? { acs: a } : {}) };
  };
  const usp = acs(o.uspAcs);
  const dsp = acs(o.dspAcs);
  const t = topology('lab').systemRam([{ base: 0, size: 2 * GiB }]);
  if (o.cpu) t.cpu(o.cpu);
  return t
    .hostBridge({ vendor: 0x8086, device: o.hostDevice ?? 0x6f00, memWindow: { cpuBase: 2 * GiB, size: GiB } }, (hb) => {
      hb.rootPort('00:01.0', { vendor: 0x8086, device: 0x6f02 }, (rp) =>
        rp.switch({ vendor: 0x10b5, device: 0x8747, ...(usp ? { acs: usp } : {}) }, (sw) => {
          sw.port({ ...(dsp ? { acs: dsp } : {}) }, (p) => {
            p.endpoint(ep(0, o.fnAcs));
            p.endpoint(ep(1, o.fnAcs));
          });
          sw.port({ ...(dsp ? { acs: dsp } : {}) }, (p) => p.endpoint(ep(0)));
        }),
      );
      hb.rootPort('00:02.0', { vendor: 0x8086, device: 0x6f04 }, (rp) => rp.endpoint(ep(0)));
    })
    .build();
}

/** Two host bridges (00 and 80) whose 00.0 functions are `device`; one device on a root port of each. */
function twoHostBridges(device: number): TopologySpec {
  const ep = { vendor: 0x1de5, device: 0x1000, bars: [bar.mem64(0, 4 * MiB, true)] };
  return topology('two-hb')
    .systemRam([{ base: 0, size: 2 * GiB }])
    .hostBridge({ bus: 0, vendor: 0x8086, device, memWindow: { cpuBase: 2 * GiB, size: 512 * MiB } }, (hb) => {
      hb.rootPort('00:01.0', {}, (rp) => rp.endpoint(ep));
      hb.rootPort('00:02.0', {}, (rp) => rp.endpoint(ep));
    })
    .hostBridge({ bus: 0x80, vendor: 0x8086, device, memWindow: { cpuBase: 2 * GiB + 512 * MiB, size: 512 * MiB } }, (hb) => {
      hb.rootPort('80:01.0', {}, (rp) => rp.endpoint(ep));
    })
    .build();
}

describe('6.6 calc_map_type_and_dist: distances', () => {
  it('same function 0, two functions of one device 2, same switch 4 (BUS_ADDR without ACS redirect)', () => {
    const b = bootSpec(lab());
    expect(calc(b.dev('0000:03:00.0'), b.dev('0000:03:00.0'))).toEqual({ mapType: PCI_P2PDMA_MAP_BUS_ADDR, distance: 0 });
    expect(calc(b.dev('0000:03:00.0'), b.dev('0000:03:00.1'))).toEqual({ mapType: PCI_P2PDMA_MAP_BUS_ADDR, distance: 2 });
    expect(calc(b.dev('0000:03:00.1'), b.dev('0000:04:00.0'))).toEqual({ mapType: PCI_P2PDMA_MAP_BUS_ADDR, distance: 4 });
  });

  it('cascaded switches: 6 between the lower and the upper switch, 4 inside the lower one', () => {
    const b = boot('cascade');
    expect(calc(b.dev('0000:08:00.0'), b.dev('0000:03:00.0'))).toEqual({ mapType: PCI_P2PDMA_MAP_BUS_ADDR, distance: 6 });
    expect(calc(b.dev('0000:08:00.0'), b.dev('0000:07:00.0'))).toEqual({ mapType: PCI_P2PDMA_MAP_BUS_ADDR, distance: 4 });
  });

  it('devices on root ports: through the host bridge (distance = both chains), NOT_SUPPORTED unless whitelisted', () => {
    const b = boot('root-ports'); // 8086:6f00, not whitelisted
    expect(calc(b.dev('0000:04:00.0'), b.dev('0000:01:00.0'), true)).toEqual({ mapType: PCI_P2PDMA_MAP_NOT_SUPPORTED, distance: 4 });
    expect(lines(b.kernel, 'peer-to-peer')).toEqual([
      'pci 0000:01:00.0: cannot be used for peer-to-peer DMA as the client and provider (0000:04:00.0) do not share an upstream bridge or whitelisted host bridge',
    ]);
    const w = boot('dual-host-bridge'); // 8086:2020 on both root buses
    expect(calc(w.dev('0000:01:00.0'), w.dev('0000:02:00.0'))).toEqual({ mapType: PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, distance: 4 });
    // The switch device and a root-port device meet nowhere: 4 + 2 hops.
    const l = bootSpec(lab());
    expect(calc(l.dev('0000:04:00.0'), l.dev('0000:05:00.0'))).toEqual({ mapType: PCI_P2PDMA_MAP_NOT_SUPPORTED, distance: 6 });
  });

  it('AMD Zen (family 0x17 or newer) forwards through the host bridge whatever the whitelist; family 0x15 does not', () => {
    const zen = bootSpec(lab({ cpu: { vendor: 'amd', family: 0x17 } }));
    expect(calc(zen.dev('0000:04:00.0'), zen.dev('0000:05:00.0')).mapType).toBe(PCI_P2PDMA_MAP_THRU_HOST_BRIDGE);
    const old = bootSpec(lab({ cpu: { vendor: 'amd', family: 0x15 } }));
    expect(calc(old.dev('0000:04:00.0'), old.dev('0000:05:00.0')).mapType).toBe(PCI_P2PDMA_MAP_NOT_SUPPORTED);
    const intel = bootSpec(lab({ cpu: { vendor: 'intel', family: 0x19 } }));
    expect(calc(intel.dev('0000:04:00.0'), intel.dev('0000:05:00.0')).mapType).toBe(PCI_P2PDMA_MAP_NOT_SUPPORTED);
  });

  it('two host bridges: 0x2020-style entries work across host bridges, 0x3c00-style (REQ_SAME_HOST_BRIDGE) only within one', () => {
    const any = bootSpec(twoHostBridges(0x2020));
    expect(calc(any.dev('0000:01:00.0'), any.dev('0000:81:00.0'))).toEqual({ mapType: PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, distance: 4 });
    const same = bootSpec(twoHostBridges(0x3c00));
    expect(calc(same.dev('0000:01:00.0'), same.dev('0000:02:00.0')).mapType).toBe(PCI_P2PDMA_MAP_THRU_HOST_BRIDGE);
    expect(calc(same.dev('0000:01:00.0'), same.dev('0000:81:00.0')).mapType).toBe(PCI_P2PDMA_MAP_NOT_SUPPORTED);
    expect(boot('dual-host-bridge-unlisted').kernel.policy).toBe('upstream');
    const un = boot('dual-host-bridge-unlisted');
    expect(calc(un.dev('0000:01:00.0'), un.dev('0000:82:00.0')).mapType).toBe(PCI_P2PDMA_MAP_NOT_SUPPORTED);
  });
});

describe('6.6: ACS redirect on the path sends traffic through the host bridge', () => {
  it('on the common upstream port (the common device counts)', () => {
    const b = bootSpec(lab({ uspAcs: ['RR'], hostDevice: 0x2020 }));
    calc(b.dev('0000:03:00.0'), b.dev('0000:04:00.0'), true);
    expect(lines(b.kernel, 'ACS redirect')).toEqual([
      'pci 0000:04:00.0: ACS redirect is set between the client and provider (0000:03:00.0)',
      'pci 0000:04:00.0: to disable ACS redirect for this path, add the kernel parameter: pci=disable_acs_redir=0000:01:00.0',
    ]);
    expect(calc(b.dev('0000:03:00.0'), b.dev('0000:04:00.0'))).toEqual({ mapType: PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, distance: 4 });
    // Two functions below the same port meet at the downstream port: the switch's USP is not on their path.
    expect(calc(b.dev('0000:03:00.0'), b.dev('0000:03:00.1')).mapType).toBe(PCI_P2PDMA_MAP_BUS_ADDR);
  });

  it('on the provider itself (EC counts too), and on the downstream port both functions share', () => {
    const p = bootSpec(lab({ fnAcs: ['EC'], hostDevice: 0x2020 }));
    calc(p.dev('0000:03:00.0'), p.dev('0000:03:00.1'), true);
    expect(lines(p.kernel, 'pci=disable_acs_redir=')).toEqual([
      'pci 0000:03:00.1: to disable ACS redirect for this path, add the kernel parameter: pci=disable_acs_redir=0000:03:00.0;0000:03:00.1',
    ]);
    const d = bootSpec(lab({ dspAcs: ['RR', 'CR'], hostDevice: 0x2020 }));
    expect(calc(d.dev('0000:03:00.0'), d.dev('0000:03:00.1'), true)).toEqual({ mapType: PCI_P2PDMA_MAP_THRU_HOST_BRIDGE, distance: 2 });
    expect(lines(d.kernel, 'pci=disable_acs_redir=')[0]).toMatch(/=0000:02:00\.0$/);
  });

  it("on both chains: the kernel's exact lines, then the whitelist warning (even when not verbose), then the verdict", () => {
    const b = boot('acs-redirect'); // downstream ports RR CR; host bridge 8086:6f00
    const provider = b.dev('0000:06:00.0');
    const client = b.dev('0000:03:00.0');
    expect(pciP2pdmaDistance(provider, client, true)).toBe(-1);
    expect(b.kernel.log.lines().map((l) => l.text).slice(-4)).toEqual([
      'pci 0000:03:00.0: ACS redirect is set between the client and provider (0000:06:00.0)',
      'pci 0000:03:00.0: to disable ACS redirect for this path, add the kernel parameter: pci=disable_acs_redir=0000:02:11.0;0000:02:08.0',
      'pci 0000:00:00.0: Host bridge not in P2PDMA whitelist: 8086:6f00',
      'pci 0000:03:00.0: cannot be used for peer-to-peer DMA as the client and provider (0000:06:00.0) do not share an upstream bridge or whitelisted host bridge',
    ]);
    b.kernel.log.clear();
    expect(pciP2pdmaDistance(provider, client, false)).toBe(-1);
    expect(b.kernel.log.lines().map((l) => l.text)).toEqual(['pci 0000:00:00.0: Host bridge not in P2PDMA whitelist: 8086:6f00']);
  });

  it('the parameter it prints fixes the path: booting with it gives BUS_ADDR', () => {
    const b = boot('acs-redirect', { cmdline: 'pci=disable_acs_redir=0000:02:11.0;0000:02:08.0' });
    expect(calc(b.dev('0000:06:00.0'), b.dev('0000:03:00.0'))).toEqual({ mapType: PCI_P2PDMA_MAP_BUS_ADDR, distance: 4 });
  });

  it('the list is cut at 127 characters when ten or more devices redirect (the 128-byte seq_buf overflows)', () => {
    const devs = Array.from({ length: 11 }, (_, i) => ({ name: `0000:${(i + 0x10).toString(16)}:00.0` }) as PciDev);
    expect(acsRedirList(devs.slice(0, 9))).toBe(devs.slice(0, 9).map((d) => d.name).join(';'));
    const cut = acsRedirList(devs);
    expect(cut).toHaveLength(127);
    expect(cut).toBe(devs.map((d) => `${d.name};`).join('').slice(0, 127));
  });
});

describe('pci_p2pdma_distance_many, pci_p2pmem_find_many, the map-type cache', () => {
  it('distance_many sums; -1 for no clients, a non-PCI client (warned when verbose) or any unsupported pair', () => {
    const b = boot('seed-switch');
    const card = b.dev('0000:06:00.0');
    expect(pciP2pdmaDistanceMany(card, [b.dev('0000:03:00.0'), b.dev('0000:04:00.0'), card], false)).toBe(8);
    expect(pciP2pdmaDistanceMany(card, [], true)).toBe(-1);
    const nullb = new Device(b.kernel, 'nullb0', { className: 'block' });
    deviceAdd(nullb);
    expect(pciP2pdmaDistanceMany(card, [nullb], true)).toBe(-1);
    expect(lines(b.kernel, 'nullb0')).toEqual(['block nullb0: cannot be used for peer-to-peer DMA as it is not a PCI device']);
    const ns = new Device(b.kernel, 'nvme0n1', { parent: b.dev('0000:05:00.0'), className: 'block' });
    deviceAdd(ns);
    expect(pciP2pdmaDistance(card, ns, false)).toBe(4);
    const rp = boot('root-ports');
    expect(pciP2pdmaDistanceMany(rp.dev('0000:04:00.0'), [rp.dev('0000:04:00.0'), rp.dev('0000:01:00.0')], false)).toBe(-1);
  });

  it('find_many picks the closest published provider; equal ones at random from the seeded RNG', () => {
    const pick = (seed: number, clients: string[]) => {
      const b = boot('seed-switch', { seed });
      for (const [bdf, barIdx] of [['0000:06:00.0', 4], ['0000:04:00.0', 2]] as const) {
        expect(pciP2pdmaAddResource(b.dev(bdf), barIdx, 0, 0)).toBe(0);
        pciP2pmemPublish(b.dev(bdf), true);
      }
      return pciP2pmemFindMany(clients.map((c) => b.dev(c)))?.name ?? null;
    };
    expect(pick(1, ['0000:04:00.0'])).toBe('0000:04:00.0'); // itself: distance 0
    expect(pick(1, ['0000:06:00.0', '0000:03:00.0'])).toBe('0000:06:00.0'); // 0 + 4 beats 4 + 4
    const chosen = new Set([1, 2, 3, 4, 5, 6, 7, 8].map((s) => pick(s, ['0000:03:00.0'])));
    expect(chosen).toEqual(new Set(['0000:04:00.0', '0000:06:00.0'])); // both at 4
    expect(pick(7, ['0000:03:00.0'])).toBe(pick(7, ['0000:03:00.0'])); // replayable
    expect(P2PMEM_FIND_MANY_MAX_CANDIDATES).toBe(512);
    const none = boot('seed-switch');
    expect(pciP2pmemFindMany([none.dev('0000:03:00.0')])).toBeNull(); // nothing published
    expect(pciP2pmemFindMany([])).toBeNull();
  });

  it("the map type is cached per provider by client index and never invalidated (6.6's xarray)", () => {
    const b = boot('seed-switch');
    const card = b.dev('0000:06:00.0');
    const rnic = b.dev('0000:03:00.0');
    expect(pciP2pdmaAddResource(card, 4, 0, 0)).toBe(0);
    const pgmap = pciP2pdma(card)!.pagemaps[0]!;
    expect(pciP2pdmaMapType(pgmap, rnic)).toBe(PCI_P2PDMA_MAP_BUS_ADDR);
    expect(pciP2pdma(card)!.mapTypes.get(0x0300)).toBe(PCI_P2PDMA_MAP_BUS_ADDR);
    // Set RR on the RNIC's downstream port after the fact: the cache keeps BUS_ADDR, a new calculation does not.
    const dsp = b.dev('0000:02:08.0');
    pciWriteConfigWord(dsp, dsp.acsCap + PCI_ACS_CTRL, pciReadConfigWord(dsp, dsp.acsCap + PCI_ACS_CTRL) | PCI_ACS_RR);
    expect(pciP2pdmaMapType(pgmap, rnic)).toBe(PCI_P2PDMA_MAP_BUS_ADDR);
    expect(calc(card, rnic).mapType).toBe(PCI_P2PDMA_MAP_NOT_SUPPORTED);
    expect(pciP2pdmaMapType(pgmap, rnic)).toBe(PCI_P2PDMA_MAP_NOT_SUPPORTED); // the calculation stored it
    // A non-PCI DMA device: NOT_SUPPORTED (dev_is_pci).
    const ib = new Device(b.kernel, 'mlx5_0', { parent: rnic, className: 'infiniband' });
    deviceAdd(ib);
    expect(pciP2pdmaMapType(pgmap, ib)).toBe(PCI_P2PDMA_MAP_NOT_SUPPORTED);
  });

  it('the 6.6 functions exist only under the upstream policy', () => {
    const b = boot('seed-switch', { policy: 'v2' });
    expect(() => pciP2pdmaDistance(b.dev('0000:06:00.0'), b.dev('0000:03:00.0'), false)).toThrow(KernelBug);
    expect(() => pciP2pmemFindMany([b.dev('0000:03:00.0')])).toThrow(/only under the 'upstream' P2PDMA policy/);
  });
});
