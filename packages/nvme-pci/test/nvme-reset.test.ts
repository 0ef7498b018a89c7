/**
 * Controller fatal status and recovery: controller.injectFatal() sets CSTS.CFS and stops the
 * controller; the driver's timeout handler (nvme_timeout → nvme_should_reset) resets it and the
 * requeued I/O completes (drivers/nvme/host/pci.c nvme_warn_reset, nvme_dev_disable,
 * nvme_reset_work; core.c nvme_cancel_request). A link that goes down makes CSTS read all-ones:
 * the reset fails and the I/O ends with BLK_STS_IOERR.
 */
import { BLK_STS_IOERR, BLK_STS_OK } from '@p2pdma/blk';
import { FABRIC_FAULT_LINK_DOWN } from '@p2pdma/pci-core';
import { describe, expect, test } from 'vitest';
import { NVME_CSTS_CFS, nvmePciCtrlIsDead, nvmeShouldReset } from '../src/index';
import { bio, diffBytes, machine, NVME_CMB_BDF, NVME_NOCMB_BDF, pattern, ramBuffer } from './helpers';

const IO_TIMEOUT_NS = 30e9;

describe('controller fatal status (CSTS.CFS) and the reset that recovers it', () => {
  test('nvme_should_reset / nvme_pci_ctrl_is_dead read CSTS as the kernel does', () => {
    expect(nvmeShouldReset(0x1)).toBe(false);
    expect(nvmeShouldReset(0x3)).toBe(true);
    expect(nvmeShouldReset(0xffffffff)).toBe(true);
    expect(nvmePciCtrlIsDead(0x1)).toBe(false);
    expect(nvmePciCtrlIsDead(0x0)).toBe(true);
    expect(nvmePciCtrlIsDead(0x3)).toBe(true);
  });

  for (const policy of ['v2', 'upstream'] as const) {
    test(`${policy}: an I/O to a fatal controller times out at 30 s, the controller is reset, the requeued write completes and reads back`, () => {
      const m = machine({ policy });
      const ctrl = m.ctrl(NVME_NOCMB_BDF);
      const dev = m.dev(NVME_NOCMB_BDF);
      const ns = dev.ctrl.namespaces[0]!;
      const name = dev.ctrl.device.name;
      ctrl.injectFatal();
      expect(ctrl.csts & NVME_CSTS_CFS).toBe(NVME_CSTS_CFS);
      expect(m.k.log.grep(`nvme-ctrl ${NVME_NOCMB_BDF}: controller fatal status (CSTS.CFS) injected`)).toHaveLength(1);
      const data = pattern(8192, 4);
      const wbuf = ramBuffer(m.k, 8192);
      wbuf.fill(data);
      const before = ctrl.stats.ioCommands;
      const st = bio(m.k, ns, true, 4096, wbuf, 8192, { run: false });
      m.k.clock.advance(IO_TIMEOUT_NS - 1);
      expect(st()).toBe(null);
      expect(ctrl.stats.ioCommands).toBe(before);
      m.k.clock.runUntilIdle();
      expect(st()).toBe(BLK_STS_OK);
      expect(m.k.log.grep(`nvme ${name}: controller is down; will reset: CSTS=0x3, PCI_STATUS=0x10`)).toHaveLength(1);
      expect(m.k.log.grep('timeout, aborting')).toEqual([]);
      expect(m.k.log.grep('QID 0 timeout')).toEqual([]);
      expect(ctrl.csts & NVME_CSTS_CFS).toBe(0);
      expect(dev.ctrl.state).toBe('live');
      expect(ctrl.stats.ioCommands).toBe(before + 1);
      const rbuf = ramBuffer(m.k, 8192);
      expect(bio(m.k, ns, false, 4096, rbuf, 8192)()).toBe(BLK_STS_OK);
      expect(diffBytes(rbuf.read(), data)).toBe('equal');
      for (const t of dev.tagset!.tags) expect(t.busy).toBe(0);
    });
  }

  test('link down under the drive: CSTS reads all-ones, the reset fails, the I/O ends with BLK_STS_IOERR and the controller is dead', () => {
    const m = machine({ policy: 'upstream' });
    const dev = m.dev(NVME_NOCMB_BDF);
    const ns = dev.ctrl.namespaces[0]!;
    const name = dev.ctrl.device.name;
    const fabric = m.sys.fabric;
    const wbuf = ramBuffer(m.k, 4096);
    const st = bio(m.k, ns, true, 0, wbuf, 4096, { run: false });
    // The write already completed (sync processing); take the link down for the next one.
    m.k.clock.runUntilIdle();
    expect(st()).toBe(BLK_STS_OK);
    fabric.injectFault({ kind: FABRIC_FAULT_LINK_DOWN, link: fabric.linkOf(m.pdev(NVME_NOCMB_BDF))! });
    const st2 = bio(m.k, ns, true, 0, wbuf, 4096, { run: false });
    m.k.clock.runUntilIdle();
    expect(st2()).toBe(BLK_STS_IOERR);
    expect(m.k.log.grep(`nvme ${name}: controller is down; will reset: CSTS=0xffffffff, PCI_STATUS read failed (134)`)).toHaveLength(1);
    expect(m.k.log.grep(`nvme ${name}: Disabling device after reset failure: -19`)).toHaveLength(1);
    expect(dev.ctrl.state).toBe('dead');
    for (const t of dev.tagset!.tags) expect(t.busy).toBe(0);
  });
});

describe('controller reset and the CMB (seed patch 07 nvme_map_cmb / nvme_release_cmb)', () => {
  for (const policy of ['v2', 'upstream'] as const) {
    test(`${policy}: a fatal controller with a CMB is reset; 6.6 keeps the CMB mapped, 4.16 + seed re-adds it and p2pdma refuses`, () => {
      const m = machine({ policy });
      const ctrl = m.ctrl(NVME_CMB_BDF);
      const dev = m.dev(NVME_CMB_BDF);
      const ns = dev.ctrl.namespaces[0]!;
      const n0 = m.k.log.lines().length;
      const cmbSize = dev.cmbSize;
      expect(cmbSize).toBeGreaterThan(0);
      ctrl.injectFatal();
      const data = pattern(4096, 9);
      const wbuf = ramBuffer(m.k, 4096);
      wbuf.fill(data);
      expect(bio(m.k, ns, true, 0, wbuf, 4096)()).toBe(BLK_STS_OK);
      const seedReAdd = policy === 'v2' ? ['nvme 0000:04:00.0: Conflicting mapping in same section'] : [];
      expect(m.k.log.lines().slice(n0).map((l) => l.text)).toEqual([
        'nvme-ctrl 0000:04:00.0: controller fatal status (CSTS.CFS) injected',
        'nvme nvme0: controller is down; will reset: CSTS=0x3, PCI_STATUS=0x10',
        ...seedReAdd,
      ]);
      // 6.6 keeps the CMB across the reset; 4.16 + seed released it and could not add it again.
      expect(dev.cmbSize).toBe(policy === 'v2' ? 0 : cmbSize);
      const rbuf = ramBuffer(m.k, 4096);
      expect(bio(m.k, ns, false, 0, rbuf, 4096)()).toBe(BLK_STS_OK);
      expect(diffBytes(rbuf.read(), data)).toBe('equal');
    });
  }
});
