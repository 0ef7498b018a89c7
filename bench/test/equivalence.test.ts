/**
 * The control-plane optimisations keep the 6.6 and seed behaviour exactly: on generated fabrics
 * with ACS redirect on some switch ports (and on host bridges in and out of the whitelist),
 * - `p2pMatrix` cells equal the per-pair verdicts of `checkP2p` (calc_map_type_and_dist /
 *   the seed's upstream_bridges_match, computed the long way, with paths and reasons);
 * - `pciP2pmemFindMany` (pci_p2pmem_find_many) returns what a reference walk over every function
 *   in pci_get_device order computes with `p2pDecide`, stores the same map types, and draws the
 *   same tie-break from the seeded RNG;
 * - `pciP2pdmaCalcMapType` prints the same warnings as before for ACS-redirect pairs.
 */
import type { Device } from '@p2pdma/kernel';
import { Kernel } from '@p2pdma/kernel';
import {
  checkP2p,
  mapTypesIdx,
  p2pDecide,
  p2pdmaEnumerationHooks,
  p2pMatrix,
  P2PDMA_MAP_KIND,
  PCI_P2PDMA_MAP_NOT_SUPPORTED,
  pciHasP2pmem,
  pciP2pdma,
  pciP2pdmaAddResource,
  pciP2pdmaCalcMapType,
  pciP2pmemFindMany,
  pciP2pmemPublish,
} from '@p2pdma/p2pdma';
import type { PciDev, TopologySpec } from '@p2pdma/pci-core';
import { enumerate, kernelOptionsForTopology, PCI_ANY_ID, PCI_CLASS_HOST_BRIDGE, pciGetDevice } from '@p2pdma/pci-core';
import { SeededRng } from '@p2pdma/test-utils';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { generateFabric } from '../src/generate-fabric';

const SHAPE = { functions: 90, hostBridges: 2, rootPortsPerHostBridge: 2, switchPorts: 3, leafPorts: 2, providers: 10, acsRedirectEvery: 2 } as const;

/** The same machine with host bridges outside the whitelist (Broadwell-EP 8086:6f00). */
function unlisted(spec: TopologySpec): TopologySpec {
  return { ...spec, devices: spec.devices.map((d) => (d.classCode === PCI_CLASS_HOST_BRIDGE ? { ...d, device: 0x6f00 } : d)) };
}

describe('optimised control plane = the reference rules', () => {
  for (const [name, spec] of [
    ['whitelisted host bridges', generateFabric(SHAPE).spec],
    ['host bridges not whitelisted', unlisted(generateFabric(SHAPE).spec)],
  ] as const) {
    for (const policy of ['upstream', 'v2'] as const) {
      it(`p2pMatrix cells = checkP2p verdicts for every pair (${policy}, ${name})`, () => {
        const m = p2pMatrix(spec, undefined, { policy });
        if (!m.ok) throw new Error(m.error);
        expect(m.endpoints.length).toBe(32);
        // The fabric exercises every outcome the policy has.
        const kinds = new Set(m.cells.flat().map((c) => c.mapType));
        expect([...kinds].sort()).toEqual(
          policy === 'v2' ? ['bus-addr', 'not-supported'] : name === 'whitelisted host bridges' ? ['bus-addr', 'thru-host-bridge'] : ['bus-addr', 'not-supported'],
        );
        m.endpoints.forEach((provider, i) => {
          const c = checkP2p(spec, { provider, clients: m.endpoints, policy });
          if (!c.ok) throw new Error(c.error);
          expect(m.cells[i]).toEqual(c.clients.map((x) => ({ mapType: x.mapType, distance: x.distance })));
        });
      });
    }
  }

  /** pci_p2pmem_find_many the long way: every function in pci_get_device order, p2pDecide per pair. */
  function referenceFindMany(kernel: Kernel, clients: readonly PciDev[], rng: { int(lo: number, hi: number): number }): { chosen: PciDev | null; closest: PciDev[] } {
    let best = Number.POSITIVE_INFINITY;
    let closest: PciDev[] = [];
    for (let p = pciGetDevice(kernel, PCI_ANY_ID, PCI_ANY_ID, null); p !== null; p = pciGetDevice(kernel, PCI_ANY_ID, PCI_ANY_ID, p)) {
      if (!pciHasP2pmem(p)) continue;
      let total = 0;
      let ok = true;
      for (const c of clients) {
        const d = p2pDecide(p, c);
        if (d.mapType === PCI_P2PDMA_MAP_NOT_SUPPORTED) {
          ok = false;
          break;
        }
        total += d.distance;
      }
      if (!ok || total > best) continue;
      if (total < best) {
        best = total;
        closest = [];
      }
      if (closest.length < 512) closest.push(p);
    }
    const chosen = closest.length === 0 ? null : closest[closest.length === 1 ? 0 : rng.int(0, closest.length - 1)]!;
    return { chosen, closest };
  }

  function boot(spec: TopologySpec, seed: number): { kernel: Kernel; devs: Map<string, PciDev>; providers: PciDev[] } {
    const kernel = new Kernel({ ...kernelOptionsForTopology(spec), policy: 'upstream', seed });
    const sys = enumerate(kernel, spec, p2pdmaEnumerationHooks(kernel));
    if ('error' in sys) throw new Error(sys.error.message);
    const providers = sys.deviceList.filter((d) => d.spec.p2pmem !== undefined);
    for (const d of providers) {
      expect(pciP2pdmaAddResource(d, d.spec.p2pmem!.bar, 0, 0)).toBe(0);
      pciP2pmemPublish(d, true);
    }
    return { kernel, devs: new Map(sys.deviceList.map((d) => [d.name, d])), providers };
  }

  it('pciP2pmemFindMany = the reference walk, map types and RNG draws included (property, both whitelists)', () => {
    const g = generateFabric(SHAPE);
    const specs = [g.spec, unlisted(g.spec)];
    const endpoints = g.spec.devices.filter((d) => d.headerType === 0 && d.classCode !== PCI_CLASS_HOST_BRIDGE).map((d) => d.bdf);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 1 }), fc.uniqueArray(fc.integer({ min: 0, max: endpoints.length - 1 }), { minLength: 1, maxLength: 8 }), fc.integer(), (which, picks, seed) => {
        const spec = specs[which]!;
        const a = boot(spec, seed);
        const b = boot(spec, seed);
        const clientsA = picks.map((i) => a.devs.get(endpoints[i]!)!);
        const clientsB = picks.map((i) => b.devs.get(endpoints[i]!)!);
        const got = pciP2pmemFindMany(clientsA as Device[]);
        const want = referenceFindMany(b.kernel, clientsB, b.kernel.rng);
        expect(got?.name ?? null).toBe(want.chosen?.name ?? null);
        // Same next draw: the tie-break consumed the same numbers.
        expect(a.kernel.rng.int(0, 1_000_000)).toBe(b.kernel.rng.int(0, 1_000_000));
        // Map types stored for every pair the kernel computed.
        for (const p of a.providers) {
          const cache = pciP2pdma(p)!.mapTypes;
          for (const c of clientsA) {
            const stored = cache.get(mapTypesIdx(c));
            if (stored !== undefined) expect(stored).toBe(p2pDecide(p, c).mapType);
          }
        }
      }),
      { seed: 42, numRuns: 25 },
    );
  });

  it('pciP2pdmaCalcMapType: ACS-redirect pairs print the kernel lines, others only the not-supported line (verbose)', () => {
    const spec = unlisted(generateFabric(SHAPE).spec);
    const { kernel, devs } = boot(spec, 1);
    const rng = new SeededRng(7);
    const all = [...devs.values()].filter((d) => d.hdrType === 0);
    let acsPairs = 0;
    for (let n = 0; n < 300; n++) {
      const p = all[rng.int(0, all.length - 1)]!;
      const c = all[rng.int(0, all.length - 1)]!;
      const printed: string[] = [];
      const stop = kernel.log.subscribe((l) => printed.push(l.text));
      const r = pciP2pdmaCalcMapType(p, c, true);
      stop();
      const d = p2pDecide(p, c);
      expect(r).toEqual({ mapType: d.mapType, distance: d.distance });
      expect(P2PDMA_MAP_KIND[r.mapType]).toBeDefined();
      const expected: string[] = [];
      if (d.acsRedirList !== null) {
        acsPairs++;
        expected.push(`pci ${c.name}: ACS redirect is set between the client and provider (${p.name})`);
        expected.push(`pci ${c.name}: to disable ACS redirect for this path, add the kernel parameter: pci=disable_acs_redir=${d.acsRedirList}`);
        for (const chk of d.whitelist?.checks ?? []) if (chk.root !== null && chk.entry === null) expected.push(`pci ${chk.root.name}: Host bridge not in P2PDMA whitelist: 8086:6f00`);
      }
      if (d.mapType === PCI_P2PDMA_MAP_NOT_SUPPORTED) {
        expected.push(`pci ${c.name}: cannot be used for peer-to-peer DMA as the client and provider (${p.name}) do not share an upstream bridge or whitelisted host bridge`);
      }
      expect(printed).toEqual(expected);
    }
    expect(acsPairs).toBeGreaterThan(5);
  });
});
