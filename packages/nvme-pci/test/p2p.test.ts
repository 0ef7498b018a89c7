/**
 * Seed patch 08 end to end: P2P requests through nvme-pci's queue_rq, with the data routed by
 * pci-core's fabric and counted on every link.
 */
import { errnoName } from '@p2pdma/kernel';
import { BLK_STS_NOTSUPP, BLK_STS_OK, blkQueuePciP2pdma, blkStatusToErrno } from '@p2pdma/blk';
import { pciP2pdmaAddResource, pciP2pmemPublish } from '@p2pdma/p2pdma';
import { describe, expect, test } from 'vitest';
import { NVME_PCI_CTRL_OPS_NO_P2PDMA } from '../src/index';
import { bio, diffBytes, machine, NVME_CMB_BDF, NVME_NOCMB_BDF, P2PMEM_CARD_BDF, p2pBuffer, pattern, ramBuffer } from './helpers';

const LEN = 64 * 1024;

describe.each(['v2', 'upstream'] as const)('policy %s', (policy) => {
  test('patch 08: a write from the same drive CMB moves no data byte on any link (served inside the device)', () => {
    const m = machine({ policy });
    const nvme = m.pdev(NVME_CMB_BDF);
    const ns = m.dev(NVME_CMB_BDF).ctrl.namespaces[0]!;
    const buf = p2pBuffer(m.k, nvme, LEN);
    const data = pattern(LEN, 1);
    buf.fill(data);
    m.sys.fabric.resetCounters();
    const st = bio(m.k, ns, true, 4096, buf, LEN, { p2p: true });
    expect(st()).toBe(BLK_STS_OK);
    expect(diffBytes(m.ctrl(NVME_CMB_BDF).media(1)!.peek(4096, LEN), data)).toBe('equal');
    const c = m.sys.fabric.counters();
    // Only command traffic crosses links: the SQE the CPU copies into the CMB SQ (64 bytes),
    // the SQ tail and CQ head doorbells (4 + 4), the PRP list the controller fetches from host
    // memory (15 entries: 120 bytes) and the 16-byte completion entry.
    expect(c.links['0000:04:00.0']).toEqual({ up: 16, down: 64 + 8 + 120 });
    expect(c.links['0000:01:00.0']).toEqual({ up: 16, down: 64 + 8 + 120 });
    // The data (and the SQE fetch from the CMB SQ) stayed inside the device.
    expect(c.devices['0000:04:00.0']!.internal).toBe(LEN + 64);
    expect(c.dram).toEqual({ read: 120, write: 16 });
    expect(m.dev(NVME_CMB_BDF).stats.p2pRequests).toBe(1);
    // One page needs no PRP list: then only the SQE, the doorbells and the CQE cross links.
    m.sys.fabric.resetCounters();
    expect(bio(m.k, ns, true, 0, buf, 4096, { p2p: true })()).toBe(BLK_STS_OK);
    expect(m.sys.fabric.counters().links['0000:04:00.0']).toEqual({ up: 16, down: 72 });
    expect(m.sys.fabric.counters().devices['0000:04:00.0']!.internal).toBe(4096 + 64);
  });

  test('patch 08: a write from another device p2pmem behind the same switch crosses only the switch', () => {
    const m = machine({ policy });
    const card = m.pdev(P2PMEM_CARD_BDF);
    expect(pciP2pdmaAddResource(card, 4, 0, 0)).toBe(0);
    pciP2pmemPublish(card, true);
    const ns = m.dev(NVME_NOCMB_BDF).ctrl.namespaces[0]!;
    const buf = p2pBuffer(m.k, card, LEN);
    const data = pattern(LEN, 2);
    buf.fill(data);
    m.sys.fabric.resetCounters();
    expect(bio(m.k, ns, true, 0, buf, LEN, { p2p: true })()).toBe(BLK_STS_OK);
    expect(diffBytes(m.ctrl(NVME_NOCMB_BDF).media(1)!.peek(0, LEN), data)).toBe('equal');
    const c = m.sys.fabric.counters();
    // The data: card link up (read completions), NVMe link down; the SQE (64 bytes) and the PRP
    // list (15 entries: 120 bytes) come from host memory, the CQE goes to it, and the CPU
    // writes two doorbells (4 + 4).
    expect(c.links['0000:06:00.0']).toEqual({ up: LEN, down: 0 });
    expect(c.links['0000:05:00.0']).toEqual({ up: 16, down: LEN + 64 + 120 + 8 });
    // Above the switch: command traffic only, no data.
    expect(c.links['0000:01:00.0']).toEqual({ up: 16, down: 64 + 120 + 8 });
    expect(c.dram).toEqual({ read: 64 + 120, write: 16 });
    expect(c.devices['0000:06:00.0']!.barRead).toBe(LEN);
  });

  test('patch 08: reads into p2pmem return the bytes written', () => {
    const m = machine({ policy });
    const nvme = m.pdev(NVME_CMB_BDF);
    const ns = m.dev(NVME_CMB_BDF).ctrl.namespaces[0]!;
    const src = ramBuffer(m.k, LEN);
    const data = pattern(LEN, 3);
    src.fill(data);
    expect(bio(m.k, ns, true, 8192, src, LEN)()).toBe(BLK_STS_OK);
    const dst = p2pBuffer(m.k, nvme, LEN);
    expect(bio(m.k, ns, false, 8192, dst, LEN, { p2p: true })()).toBe(BLK_STS_OK);
    expect(diffBytes(dst.read(), data)).toBe('equal');
  });
});

test('patch 05/08: a P2P request to a drive whose ops lack NVME_F_PCI_P2PDMA never reaches the controller', () => {
  const m = machine({ policy: 'v2', params: { ctrlOps: NVME_PCI_CTRL_OPS_NO_P2PDMA } });
  const ns = m.dev(NVME_CMB_BDF).ctrl.namespaces[0]!;
  expect(blkQueuePciP2pdma(ns.queue)).toBe(false);
  const buf = p2pBuffer(m.k, m.pdev(NVME_CMB_BDF), 4096);
  const before = m.ctrl(NVME_CMB_BDF).stats.ioCommands;
  const st = bio(m.k, ns, true, 0, buf, 4096, { p2p: true })();
  expect(st).toBe(BLK_STS_NOTSUPP);
  expect(errnoName(blkStatusToErrno(st!))).toBe('EOPNOTSUPP');
  expect(m.ctrl(NVME_CMB_BDF).stats.ioCommands).toBe(before);
});

test('patch 08: the core sets QUEUE_FLAG_PCI_P2PDMA on every namespace of a P2P-capable controller', () => {
  for (const policy of ['v2', 'upstream'] as const) {
    const m = machine({ policy, overrides: { [NVME_CMB_BDF]: { namespaces: [{ sizeBytes: 1 << 20 }, { sizeBytes: 1 << 20, lbaSize: 4096 }] } } });
    const nss = m.dev(NVME_CMB_BDF).ctrl.namespaces;
    expect(nss.map((n) => n.disk.diskName)).toEqual(['nvme0n1', 'nvme0n2']);
    expect(nss.map((n) => blkQueuePciP2pdma(n.queue))).toEqual([true, true]);
  }
});
