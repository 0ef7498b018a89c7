/**
 * End-to-end data integrity (fast-check, fixed seeds): reads and writes of many sizes, disk
 * offsets and buffer offsets through blk-mq, nvme_queue_rq, map_data/PRPs, the controller's
 * PRP walk and the fabric, under both policies, with and without the IOMMU, 512- and 4096-byte
 * blocks, synchronous and delayed doorbell processing, RAM and p2pmem buffers.
 */
import type { P2pdmaPolicy } from '@p2pdma/kernel';
import { BLK_STS_OK, BLK_STS_TARGET, BlkPlug, blkFinishPlug, blkStartPlug, queueMaxSectorsStore } from '@p2pdma/blk';
import { pciP2pdmaAddResource, pciP2pmemPublish } from '@p2pdma/p2pdma';
import fc from 'fast-check';
import { describe, expect, test } from 'vitest';
import type { NvmeProcessing } from '../src/index';
import type { Buffer } from './helpers';
import { bio, diffBytes, machine, NVME_CMB_BDF, NVME_NOCMB_BDF, P2PMEM_CARD_BDF, p2pBuffer, pattern, ramBuffer } from './helpers';

const NS_BYTES = 4 * 1024 * 1024;
const MAX_IO = 192 * 1024;

interface Case {
  name: string;
  policy: P2pdmaPolicy;
  iommu: boolean;
  lbaSize: 512 | 4096;
  processing: NvmeProcessing;
  buffers: 'ram' | 'own-cmb' | 'card';
  target: string;
}

const CASES: Case[] = [
  { name: 'v2, RAM buffers, 512-byte blocks, sync', policy: 'v2', iommu: false, lbaSize: 512, processing: 'sync', buffers: 'ram', target: NVME_CMB_BDF },
  { name: 'upstream, RAM buffers, 4096-byte blocks, IOMMU on, delayed doorbells', policy: 'upstream', iommu: true, lbaSize: 4096, processing: { delayNs: 2500 }, buffers: 'ram', target: NVME_NOCMB_BDF },
  { name: 'v2, buffers in the same drive CMB (REQ_PCI_P2PDMA)', policy: 'v2', iommu: false, lbaSize: 512, processing: 'sync', buffers: 'own-cmb', target: NVME_CMB_BDF },
  { name: 'upstream, buffers in the p2pmem card behind the switch', policy: 'upstream', iommu: false, lbaSize: 512, processing: 'sync', buffers: 'card', target: NVME_NOCMB_BDF },
  { name: 'v2, buffers in the p2pmem card, IOMMU on (patch 04 cleared ACS redirect)', policy: 'v2', iommu: true, lbaSize: 4096, processing: { delayNs: 700 }, buffers: 'card', target: NVME_NOCMB_BDF },
];

describe.each(CASES)('data path: $name', (c) => {
  test('every read returns exactly the bytes written (property, seed 42)', () => {
    const m = machine({ policy: c.policy, iommu: c.iommu, overrides: { [c.target]: { namespaces: [{ sizeBytes: NS_BYTES, lbaSize: c.lbaSize }], processing: c.processing } } });
    const ns = m.dev(c.target).ctrl.namespaces[0]!;
    expect(ns.lbaSize).toBe(c.lbaSize);
    const ref = new Uint8Array(NS_BYTES);
    let buf: Buffer;
    if (c.buffers === 'ram') buf = ramBuffer(m.k, MAX_IO + 4096);
    else if (c.buffers === 'own-cmb') buf = p2pBuffer(m.k, m.pdev(NVME_CMB_BDF), MAX_IO + 4096);
    else {
      const card = m.pdev(P2PMEM_CARD_BDF);
      expect(pciP2pdmaAddResource(card, 4, 0, 0)).toBe(0);
      pciP2pmemPublish(card, true);
      buf = p2pBuffer(m.k, card, MAX_IO + 4096);
    }
    const p2p = c.buffers !== 'ram';
    const blocks = NS_BYTES / c.lbaSize;
    const op = fc.record({
      write: fc.boolean(),
      lba: fc.integer({ min: 0, max: blocks - 1 }),
      nlb: fc.integer({ min: 1, max: MAX_IO / c.lbaSize }),
      bufOffset: fc.integer({ min: 0, max: 4096 / 512 - 1 }).map((x) => (x * 512) % 4096),
      seed: fc.integer({ min: 1, max: 1 << 30 }),
    });
    let ops = 0;
    fc.assert(
      fc.property(op, (o) => {
        const nlb = Math.min(o.nlb, blocks - o.lba);
        const off = o.lba * c.lbaSize;
        const len = nlb * c.lbaSize;
        ops++;
        if (o.write) {
          const data = pattern(len, o.seed);
          const staged = new Uint8Array(buf.len);
          staged.set(data, o.bufOffset);
          buf.fill(staged);
          if (bio(m.k, ns, true, off, buf, len, { p2p, bufOffset: o.bufOffset })() !== BLK_STS_OK) return false;
          ref.set(data, off);
        }
        buf.fill(new Uint8Array(buf.len));
        if (bio(m.k, ns, false, off, buf, len, { p2p, bufOffset: o.bufOffset })() !== BLK_STS_OK) return false;
        return diffBytes(buf.read().subarray(o.bufOffset, o.bufOffset + len), ref.subarray(off, off + len)) === 'equal';
      }),
      { seed: 42, numRuns: 200 },
    );
    expect(ops).toBe(200);
    // The whole namespace agrees with the reference, byte for byte.
    expect(diffBytes(m.ctrl(c.target).media(1)!.peek(0, NS_BYTES), ref)).toBe('equal');
    expect(m.ctrl(c.target).stats.errors).toBe(0);
    expect(m.sys.fabric.counters().errors).toBe(0);
    const stats = m.dev(c.target).stats;
    if (p2p) expect(stats.p2pRequests).toBeGreaterThan(200);
    else expect(stats.p2pRequests).toBe(0);
  });
});

test('PRP lists chain across list pages for the largest transfers (4.16 nvme_pci_setup_prps)', () => {
  const m = machine({ policy: 'v2', overrides: { [NVME_NOCMB_BDF]: { namespaces: [{ sizeBytes: 8 << 20 }], mdts: 0 } } });
  const dev = m.dev(NVME_NOCMB_BDF);
  const ns = dev.ctrl.namespaces[0]!;
  // MDTS 0: the transport's NVME_MAX_KB_SZ (4 MiB) is the limit; raise max_sectors_kb to it and
  // plug four contiguous 1 MiB bios into one 4 MiB request: 1023 PRP entries after PRP1, two
  // list pages, the first one's last slot chaining to the second.
  expect(queueMaxSectorsStore(ns.queue, 4096)).toBe(0);
  const len = 4 << 20;
  const buf = ramBuffer(m.k, len);
  const data = pattern(len, 9);
  buf.fill(data);
  const run = (write: boolean): Array<() => unknown> => {
    const plug = new BlkPlug(m.k);
    blkStartPlug(plug);
    const sts = [0, 1, 2, 3].map((i) => bio(m.k, ns, write, i << 20, buf, 1 << 20, { bufOffset: i << 20, run: false }));
    blkFinishPlug(plug);
    m.k.clock.runUntilIdle();
    return sts;
  };
  expect(run(true).map((s) => s())).toEqual([BLK_STS_OK, BLK_STS_OK, BLK_STS_OK, BLK_STS_OK]);
  expect(m.ctrl(NVME_NOCMB_BDF).stats.ioCommands).toBe(1);
  expect(dev.stats.prpListPages).toBe(2);
  expect(m.ctrl(NVME_NOCMB_BDF).dma.stats.prpListPages).toBe(2);
  buf.fill(new Uint8Array(len));
  expect(run(false).map((s) => s())).toEqual([BLK_STS_OK, BLK_STS_OK, BLK_STS_OK, BLK_STS_OK]);
  expect(diffBytes(buf.read(), data)).toBe('equal');
  expect(diffBytes(m.ctrl(NVME_NOCMB_BDF).media(1)!.peek(0, len), data)).toBe('equal');
});

test('6.6: with the IOMMU on, ACS redirect sends card-to-NVMe P2P through a host bridge not whitelisted: BLK_STS_TARGET, nothing sent', () => {
  const m = machine({ policy: 'upstream', iommu: true });
  const card = m.pdev(P2PMEM_CARD_BDF);
  expect(pciP2pdmaAddResource(card, 4, 0, 0)).toBe(0);
  const ns = m.dev(NVME_NOCMB_BDF).ctrl.namespaces[0]!;
  const buf = p2pBuffer(m.k, card, 8192);
  const before = m.ctrl(NVME_NOCMB_BDF).stats.ioCommands;
  expect(bio(m.k, ns, true, 0, buf, 8192, { p2p: true })()).toBe(BLK_STS_TARGET);
  expect(m.ctrl(NVME_NOCMB_BDF).stats.ioCommands).toBe(before);
  expect(m.dev(NVME_NOCMB_BDF).stats.mapFailures).toBe(1);
});
