/**
 * The pure `p2pMatrix` (what `p2pdma matrix/check` print) against the full kernel path, on every
 * built-in and every real lspci fixture, under both policies:
 * - 6.6: `pci_p2pdma_distance` for every endpoint pair; and for every provider whose BAR the
 *   kernel accepts as p2pmem, an actual `pci_p2pmem_alloc_sgl` + map for every client, whose
 *   result (bus address / host mapping / failure) must match the matrix's map type.
 * - seed v2: for every provider the kernel accepts, `pci_p2pdma_add_resource` + publish, then a
 *   client list per client and `pci_p2pmem_find`, which must find the provider exactly when the
 *   matrix says bus-addr.
 */
import type { P2pdmaPolicy } from '@p2pdma/kernel';
import { DMA_BIDIRECTIONAL, devresReleaseAll, P2PDMA_POLICIES } from '@p2pdma/kernel';
import type { PciDev, TopologySpec } from '@p2pdma/pci-core';
import { builtinNames, getBuiltin, IORESOURCE_MEM, importLspci, pciResourceFlags, pciResourceLen } from '@p2pdma/pci-core';
import { lspciFixtureNames, readLspciFixture } from '@p2pdma/test-utils';
import { sgDmaIsBusAddress } from '@p2pdma/kernel';
import { describe, expect, it } from 'vitest';
import type { P2pSgl } from '../src/alloc';
import { pciP2pmemAllocSgl, pciP2pmemFreeSgl } from '../src/alloc';
import type { P2pMatrixReport } from '../src/check';
import { p2pMatrix } from '../src/check';
import { P2pdmaClientList, pciP2pdmaAddClient, pciP2pmemFind } from '../src/client-list';
import { pciP2pdmaDistance } from '../src/distance';
import { pciP2pdmaMapSg, pciP2pdmaUnmapSg } from '../src/map-sg';
import { pciP2pdma } from '../src/pci-p2pdma';
import { pciP2pdmaAddResource, pciP2pmemPublish } from '../src/provider';
import { bootSpec } from './helpers';

const topologies: Array<[string, () => TopologySpec]> = [
  ...builtinNames().map((n): [string, () => TopologySpec] => [`builtin:${n}`, () => getBuiltin(n)!]),
  ...lspciFixtureNames().map((f): [string, () => TopologySpec] => [
    `lspci:${f}`,
    () => {
      const r = importLspci(readLspciFixture(f), f);
      if (!r.ok) throw new Error(r.error);
      return r.spec;
    },
  ]),
];

/** Registers the first memory BAR the kernel accepts as p2pmem; `false` when none. */
function addSomeBar(pdev: PciDev): boolean {
  for (let b = 0; b < 6; b++) {
    if ((pciResourceFlags(pdev, b) & IORESOURCE_MEM) === 0 || pciResourceLen(pdev, b) < 4096) continue;
    if (pciP2pdmaAddResource(pdev, b, 0, 0) === 0 && pciP2pdma(pdev)!.pool.size() > 0) return true;
  }
  return false;
}

const totals = { pairs: 0, distance: 0, mapped: 0, found: 0, providers: 0 };

function crossCheck(spec: TopologySpec, policy: P2pdmaPolicy): void {
  const m = p2pMatrix(spec, undefined, { policy });
  if (!m.ok) throw new Error(m.error);
  const matrix = m as P2pMatrixReport;
  const b = bootSpec(spec, { policy });
  const eps = matrix.endpoints.map((e) => b.dev(e));
  totals.pairs += eps.length * eps.length;
  eps.forEach((provider, i) => {
    const row = matrix.cells[i]!;
    if (policy === 'upstream') {
      eps.forEach((client, j) => {
        const cell = row[j]!;
        expect(pciP2pdmaDistance(provider, client, false), `${provider.name} -> ${client.name}`).toBe(cell.mapType === 'not-supported' ? -1 : cell.distance);
        totals.distance++;
      });
    }
    if (!addSomeBar(provider)) return;
    totals.providers++;
    if (policy === 'upstream') {
      const sg = pciP2pmemAllocSgl(provider, 4096) as P2pSgl;
      eps.forEach((client, j) => {
        const n = pciP2pdmaMapSg(client, sg.sgl, 1, DMA_BIDIRECTIONAL);
        const kind = n === 0 ? 'not-supported' : sgDmaIsBusAddress(sg.sgl) ? 'bus-addr' : 'thru-host-bridge';
        expect(kind, `${provider.name} -> ${client.name}`).toBe(row[j]!.mapType);
        if (n > 0) pciP2pdmaUnmapSg(client, sg.sgl, 1, DMA_BIDIRECTIONAL);
        totals.mapped++;
      });
      pciP2pmemFreeSgl(provider, sg.sgl);
    } else {
      pciP2pmemPublish(provider, true);
      eps.forEach((client, j) => {
        const list = new P2pdmaClientList(b.kernel);
        expect(pciP2pdmaAddClient(list, client)).toBe(0);
        const found = pciP2pmemFind(list);
        expect(found === provider, `${provider.name} -> ${client.name}`).toBe(row[j]!.mapType === 'bus-addr');
        totals.found++;
      });
      pciP2pmemPublish(provider, false);
    }
    devresReleaseAll(provider); // the p2pmem goes away (nothing allocated): the next provider may reuse the memory section
    expect(b.kernel.memmap.pagemaps()).toEqual([]);
  });
}

describe('checkP2p/p2pMatrix agree with the full-kernel path (every built-in and lspci fixture, both policies)', () => {
  for (const [name, make] of topologies) {
    for (const policy of P2PDMA_POLICIES) {
      it(`${name} (${policy})`, () => {
        crossCheck(make(), policy);
      });
    }
  }
  it('covered enough pairs to mean something', () => {
    expect(totals.distance).toBeGreaterThan(1000);
    expect(totals.mapped).toBeGreaterThan(200);
    expect(totals.found).toBeGreaterThan(200);
    console.log(`cross-check: ${totals.pairs} pairs, ${totals.distance} distances, ${totals.mapped} maps, ${totals.found} finds, ${totals.providers} providers`);
  });
});
