/**
 * The host driver: probe via the ID table (quirks as data), the enable/reset sequence, queue and
 * namespace setup, error status mapping and retries, timeouts, failures during probe with the
 * kernel's messages, and removal (drivers/nvme/host/{core,pci}.c, 4.16 + seed; 6.6 where noted).
 */
import { deviceReleaseDriver } from '@p2pdma/kernel';
import {
  BLK_STS_IOERR,
  BLK_STS_MEDIUM,
  BLK_STS_NEXUS,
  BLK_STS_NOSPC,
  BLK_STS_NOTSUPP,
  BLK_STS_OK,
  BLK_STS_TARGET,
  BLK_STS_TRANSPORT,
  Bio,
  blkQueueFlagTest,
  QUEUE_FLAG_NONROT,
  QUEUE_FLAG_WC,
  REQ_OP_FLUSH,
  REQ_PREFLUSH,
  submitBio,
} from '@p2pdma/blk';
import type { PciDev, TopologySpec } from '@p2pdma/pci-core';
import { getBuiltin, PCI_ANY_ID, pciMatchId } from '@p2pdma/pci-core';
import { describe, expect, test } from 'vitest';
import { msixStats } from '../src/internal/msix';
import type { NvmeStatus } from '../src/index';
import {
  NVME_CONTROLLER_REGISTERS,
  NVME_ERROR_STATUS,
  NVME_F_PCI_P2PDMA,
  NVME_ID_TABLE,
  NVME_PCI_CTRL_OPS,
  NVME_PCI_CTRL_OPS_NO_P2PDMA,
  NVME_QUIRK_DEALLOCATE_ZEROES,
  NVME_QUIRK_PSEUDO_CMB_BAR4,
  NVME_QUIRK_STRIPE_SIZE,
  NVME_SC_ABORT_REQ,
  NVME_SC_CAP_EXCEEDED,
  NVME_SC_DNR,
  NVME_SC_HOST_PATH_ERROR,
  NVME_SC_INTERNAL,
  NVME_SC_INVALID_OPCODE,
  NVME_SC_LBA_RANGE,
  NVME_SC_READ_ERROR,
  NVME_SC_RESERVATION_CONFLICT,
  NVME_SC_SUCCESS,
  nvme_admin_create_cq,
  nvme_admin_identify,
  nvme_admin_set_features,
  nvme_cmd_flush,
  nvme_cmd_write,
  nvmeControllerOf,
  nvmeErrorStatus,
  nvmeInit,
  nvmeQuirkNames,
} from '../src/index';
import { bio, diffBytes, machine, NVME_CMB_BDF, NVME_NOCMB_BDF, p2pBuffer, pattern, ramBuffer } from './helpers';

function withDevice(id: { vendor: number; device: number }, bdf = NVME_NOCMB_BDF): TopologySpec {
  const spec = structuredClone(getBuiltin('seed-switch')!);
  const d = spec.devices.find((x) => x.bdf === bdf)!;
  d.vendor = id.vendor;
  d.device = id.device;
  delete d.subsystemVendor;
  delete d.subsystemDevice;
  return spec;
}

describe('probe and the enable/reset sequence', () => {
  test.each(['v2', 'upstream'] as const)('seed-switch (%s): controllers, queues, namespaces, limits and log lines', (policy) => {
    const m = machine({ policy });
    const lines = m.k.log.lines().map((l) => l.text);
    const ours = lines.slice(lines.findIndex((l) => l.startsWith('nvme nvme0')));
    expect(ours).toEqual([
      'nvme nvme0: pci function 0000:04:00.0',
      policy === 'v2' ? 'nvme 0000:04:00.0: added peer-to-peer DMA memory [mem 0x90000000-0x93ffffff 64bit pref]' : 'nvme 0000:04:00.0: added peer-to-peer DMA memory 0x90000000-0x93ffffff',
      'nvme nvme1: pci function 0000:05:00.0',
    ]);
    const [d0, d1] = m.drv.devices();
    expect([d0!.ctrl.name, d1!.ctrl.name]).toEqual(['nvme0', 'nvme1']);
    expect(d0!.ctrl.state).toBe('live');
    expect(d0!.onlineQueues).toBe(5);
    expect(d0!.tagset!.nrHwQueues).toBe(4);
    expect(d0!.tagset!.queueDepth).toBe(1023);
    expect(d0!.ctrl.model).toBe('Eideticom NoLoad (NVMe, with CMB)');
    const ns = d0!.ctrl.namespaces[0]!;
    expect([ns.disk.diskName, ns.capacitySectors, ns.lbaSize]).toEqual(['nvme0n1', 2097152, 512]);
    // MDTS 5 with 4 KiB pages: 128 KiB = 256 sectors, 33 segments; the PRP virtual boundary.
    expect([ns.queue.limits.maxHwSectors, ns.queue.limits.maxSegments, ns.queue.limits.virtBoundaryMask]).toEqual([256, 33, 4095]);
    expect(blkQueueFlagTest(QUEUE_FLAG_NONROT, ns.queue)).toBe(true);
    // The controller sees what the driver programmed: CC (4 KiB pages, 64/16-byte entries), AQA 32/32.
    const c = m.ctrl(NVME_CMB_BDF);
    expect([c.cc, c.csts, c.aqa]).toEqual([0x460001, 1, 0x1f001f]);
    expect([...c.sqs.keys()]).toEqual([0, 1, 2, 3, 4]);
    expect([...c.cqs.values()].map((q) => q.iv)).toEqual([0, 0, 1, 2, 3]);
    // Admin vector 0 is shared with I/O queue 1 (4.16 cq_vector = qid - 1).
    expect(msixStats(d0!.pdev, 0).handlers).toBe(2);
  });

  test('the ID table is data: first match wins, quirks from driver_data', () => {
    expect(NVME_ID_TABLE.map((e) => `${e.vendor === PCI_ANY_ID ? 'class' : `${e.vendor.toString(16)}:${e.device.toString(16)}`} ${nvmeQuirkNames(e.driverData).join('|')}`)).toContain(
      '11f8:f117 NVME_QUIRK_PSEUDO_CMB_BAR4',
    );
    const m = machine();
    expect(pciMatchId(NVME_ID_TABLE, m.pdev(NVME_NOCMB_BDF))).toMatchObject({ comment: 'Intel SSD DC P3700' });
    expect(pciMatchId(NVME_ID_TABLE, m.pdev(NVME_CMB_BDF))).toMatchObject({ comment: 'any NVMe controller (class 01 08 02)' });
    expect(m.dev(NVME_NOCMB_BDF).ctrl.quirks).toBe(NVME_QUIRK_STRIPE_SIZE | NVME_QUIRK_DEALLOCATE_ZEROES);
    expect(m.dev(NVME_CMB_BDF).ctrl.quirks).toBe(0);
    const everspin = NVME_ID_TABLE.find((e) => e.vendor === 0x1db1)!;
    expect([everspin.device, everspin.driverData]).toEqual([0x0002, NVME_QUIRK_PSEUDO_CMB_BAR4]);
  });

  test('NVME_QUIRK_IDENTIFY_CNS scans namespace IDs one by one instead of the active list', () => {
    const cfg = { namespaces: [{ sizeBytes: 1 << 20 }, { nsid: 3, sizeBytes: 1 << 20 }] };
    const plain = machine({ overrides: { [NVME_NOCMB_BDF]: cfg } });
    const quirky = machine({ spec: withDevice({ vendor: 0x8086, device: 0x5845 }), overrides: { [NVME_NOCMB_BDF]: cfg } });
    const idents = (mm: typeof plain) => mm.ctrl(NVME_NOCMB_BDF).trace.filter((t) => t.qid === 0 && t.opcode === nvme_admin_identify).map((t) => t.status);
    // Controller, active list, NS 1, NS 3 / controller, NS 1, NS 2 (invalid), NS 3.
    expect(idents(plain)).toEqual([0, 0, 0, 0]);
    expect(idents(quirky)).toEqual([0, 0, 0x400b, 0]);
    for (const mm of [plain, quirky]) expect(mm.dev(NVME_NOCMB_BDF).ctrl.namespaces.map((n) => n.disk.diskName)).toEqual(['nvme1n1', 'nvme1n3']);
  });

  test('the Apple 0x2001 workaround: queue depth 2, with its warning', () => {
    const m = machine({ spec: withDevice({ vendor: 0x106b, device: 0x2001 }) });
    expect(m.dev(NVME_NOCMB_BDF).qDepth).toBe(2);
    expect(m.dev(NVME_NOCMB_BDF).tagset!.queueDepth).toBe(1);
    expect(m.k.log.grep('nvme nvme1: detected Apple NVMe controller, set queue depth=2 to work around controller resets')).toHaveLength(1);
    const buf = ramBuffer(m.k, 4096);
    buf.fill(pattern(4096, 1));
    expect(bio(m.k, m.dev(NVME_NOCMB_BDF).ctrl.namespaces[0]!, true, 0, buf, 4096)()).toBe(BLK_STS_OK);
  });

  test('ops flags: NVME_PCI_CTRL_OPS carries NVME_F_PCI_P2PDMA (patch 08), the variant does not', () => {
    expect(NVME_PCI_CTRL_OPS.flags & NVME_F_PCI_P2PDMA).toBe(NVME_F_PCI_P2PDMA);
    expect(NVME_PCI_CTRL_OPS_NO_P2PDMA.flags & NVME_F_PCI_P2PDMA).toBe(0);
    expect(NVME_PCI_CTRL_OPS.name).toBe('pcie');
    expect(NVME_CONTROLLER_REGISTERS).toHaveLength(12);
  });

  test('a volatile write cache makes the queue write-back and flushes reach the controller', () => {
    const m = machine({ overrides: { [NVME_CMB_BDF]: { volatileWriteCache: true } } });
    const ns = m.dev(NVME_CMB_BDF).ctrl.namespaces[0]!;
    expect(blkQueueFlagTest(QUEUE_FLAG_WC, ns.queue)).toBe(true);
    let st: unknown = null;
    submitBio(new Bio({ disk: ns.disk, op: REQ_OP_FLUSH, flags: REQ_PREFLUSH, endIo: (b) => (st = b.status) }));
    m.k.clock.runUntilIdle();
    expect(st).toBe(BLK_STS_OK);
    expect(m.ctrl(NVME_CMB_BDF).trace.filter((t) => t.qid > 0).map((t) => [t.opcode, t.nsid])).toEqual([[nvme_cmd_flush, 1]]);
  });
});

describe('bad input gets the driver behaviour and a clear line', () => {
  test('CAP.MPSMIN above the host page: 4.16 refuses to enable, then removes the controller', () => {
    const m = machine({ overrides: { [NVME_NOCMB_BDF]: { cap: { mpsmin: 1, mpsmax: 1 } } } });
    expect(m.k.log.grep(/nvme nvme1: /).map((l) => l.text)).toEqual([
      'nvme nvme1: pci function 0000:05:00.0',
      'nvme nvme1: Minimum device page size 8192 too large for host (4096)',
      'nvme nvme1: Removing after probe failure status: -19',
    ]);
    expect(m.pdev(NVME_NOCMB_BDF).driver).not.toBe(null);
    m.k.clock.runUntilIdle();
    expect(m.pdev(NVME_NOCMB_BDF).driver).toBe(null);
    expect(m.k.sysfs.exists('/sys/class/nvme/nvme1')).toBe(false);
    expect(m.drv.devices().map((d) => d.pdev.name)).toEqual([NVME_CMB_BDF]);
  });

  test('a namespace of size 0 is skipped (NCAP 0), with the model saying why', () => {
    const m = machine({ overrides: { [NVME_CMB_BDF]: { namespaces: [{ sizeBytes: 1 << 20 }, { sizeBytes: 0 }, { sizeBytes: 1 << 20 }] } } });
    expect(m.dev(NVME_CMB_BDF).ctrl.namespaces.map((n) => n.disk.diskName)).toEqual(['nvme0n1', 'nvme0n3']);
    expect(m.k.log.grep('nvme-ctrl 0000:04:00.0: namespace 2 has size 0: reported with NSZE/NCAP 0 (not allocated)')).toHaveLength(1);
  });

  test('a function with no controller model behind BAR 0 (plain memory) never becomes ready', () => {
    const m = machine({
      beforeDriver: (_k, sys) => {
        sys.findByBdf(NVME_NOCMB_BDF)!.setBarBacking(0, { read: (_o, out) => out.fill(0), write: () => {} });
      },
    });
    expect(m.k.log.grep(/nvme nvme1: /).map((l) => l.text)).toEqual([
      'nvme nvme1: pci function 0000:05:00.0',
      'nvme nvme1: Device not ready; aborting initialisation',
      'nvme nvme1: Removing after probe failure status: -19',
    ]);
  });

  test('CSTS reading all ones (the device is gone: Completer Abort) fails nvme_pci_enable with -ENODEV', () => {
    const m = machine({ beforeDriver: (_k, sys) => sys.findByBdf(NVME_NOCMB_BDF)!.setBarBacking(0, null) });
    expect(m.k.log.grep(/nvme nvme1: /).map((l) => l.text)).toEqual(['nvme nvme1: pci function 0000:05:00.0', 'nvme nvme1: Removing after probe failure status: -19']);
  });

  const inject = (opcode: number, status: number, times = 1) => (_k: unknown, sys: { findByBdf(b: string): PciDev | null }) => {
    nvmeControllerOf(sys.findByBdf(NVME_NOCMB_BDF)!)!.injectStatus({ admin: true, opcode, status: status as NvmeStatus, times });
  };

  test('Identify failing: "Identify Controller failed (<status>)", -EIO, removal', () => {
    const m = machine({ beforeDriver: inject(nvme_admin_identify, NVME_SC_INTERNAL | NVME_SC_DNR) });
    expect(m.k.log.grep(/nvme nvme1: /).map((l) => l.text)).toEqual([
      'nvme nvme1: pci function 0000:05:00.0',
      `nvme nvme1: Identify Controller failed (${NVME_SC_INTERNAL | NVME_SC_DNR})`,
      'nvme nvme1: Removing after probe failure status: -5',
    ]);
  });

  test('Set Features (queue count) failing leaves an admin-only controller: "IO queues not created"', () => {
    const m = machine({ beforeDriver: inject(nvme_admin_set_features, NVME_SC_INTERNAL | NVME_SC_DNR) });
    const dev = m.dev(NVME_NOCMB_BDF);
    expect(m.k.log.grep(/nvme nvme1: /).map((l) => l.text)).toEqual([
      'nvme nvme1: pci function 0000:05:00.0',
      `nvme nvme1: Could not set queue count (${NVME_SC_INTERNAL | NVME_SC_DNR})`,
      'nvme nvme1: IO queues not created',
    ]);
    expect([dev.ctrl.state, dev.onlineQueues, dev.ctrl.namespaces.length, dev.tagset]).toEqual(['admin-only', 1, 0, null]);
  });

  test('a controller refusing Create I/O CQ is tolerated: fewer queues (here none)', () => {
    const m = machine({ beforeDriver: inject(nvme_admin_create_cq, 0x101 | NVME_SC_DNR) });
    expect(m.dev(NVME_NOCMB_BDF).ctrl.state).toBe('admin-only');
    expect(m.k.log.grep('nvme nvme1: IO queues not created')).toHaveLength(1);
  });
});

describe('completion status → blk_status_t (nvme_error_status) and retries', () => {
  test('the 4.16 and 6.6 tables', () => {
    const codes = [NVME_SC_SUCCESS, NVME_SC_CAP_EXCEEDED, NVME_SC_LBA_RANGE, NVME_SC_INVALID_OPCODE, 0x183, NVME_SC_READ_ERROR, 0x282, NVME_SC_RESERVATION_CONFLICT, NVME_SC_HOST_PATH_ERROR, NVME_SC_INTERNAL];
    const row = (policy: 'v2' | 'upstream') => codes.map((c) => nvmeErrorStatus((c | NVME_SC_DNR) as NvmeStatus, policy));
    expect(row('v2')).toEqual([BLK_STS_OK, BLK_STS_NOSPC, BLK_STS_IOERR, BLK_STS_IOERR, BLK_STS_NOTSUPP, BLK_STS_MEDIUM, 8, BLK_STS_NEXUS, BLK_STS_IOERR, BLK_STS_IOERR]);
    expect(row('upstream')).toEqual([BLK_STS_OK, BLK_STS_NOSPC, BLK_STS_TARGET, BLK_STS_NOTSUPP, BLK_STS_NOTSUPP, BLK_STS_MEDIUM, 8, BLK_STS_NEXUS, BLK_STS_TRANSPORT, BLK_STS_IOERR]);
    expect(NVME_ERROR_STATUS.v2.size).toBe(14);
  });

  test.each([
    ['v2', BLK_STS_IOERR, 'I/O'],
    ['upstream', BLK_STS_TARGET, 'critical target'],
  ] as const)('%s: an LBA Out of Range completion (DNR) ends the request at once with %i', (policy, want, what) => {
    const m = machine({ policy });
    const ctrl = m.ctrl(NVME_CMB_BDF);
    ctrl.injectStatus({ opcode: nvme_cmd_write, status: (NVME_SC_LBA_RANGE | NVME_SC_DNR) as NvmeStatus });
    const buf = ramBuffer(m.k, 4096);
    const before = ctrl.stats.ioCommands;
    expect(bio(m.k, m.dev(NVME_CMB_BDF).ctrl.namespaces[0]!, true, 8 * 512, buf, 4096)()).toBe(want);
    expect(ctrl.stats.ioCommands - before).toBe(1);
    expect(m.k.log.grep(`print_req_error: ${what} error, dev nvme0n1, sector 8`)).toHaveLength(1);
  });

  test('a failure without DNR is retried (nvme_max_retries = 5): two transient errors, then the data lands', () => {
    const m = machine();
    const ctrl = m.ctrl(NVME_CMB_BDF);
    ctrl.injectStatus({ opcode: nvme_cmd_write, status: NVME_SC_INTERNAL as NvmeStatus, times: 2 });
    const buf = ramBuffer(m.k, 4096);
    const data = pattern(4096, 4);
    buf.fill(data);
    const before = ctrl.stats.ioCommands;
    expect(bio(m.k, m.dev(NVME_CMB_BDF).ctrl.namespaces[0]!, true, 0, buf, 4096)()).toBe(BLK_STS_OK);
    expect(ctrl.stats.ioCommands - before).toBe(3);
    expect(diffBytes(ctrl.media(1)!.peek(0, 4096), data)).toBe('equal');
  });

  test('retries stop after five: six attempts, then BLK_STS_IOERR', () => {
    const m = machine();
    const ctrl = m.ctrl(NVME_CMB_BDF);
    ctrl.injectStatus({ opcode: nvme_cmd_write, status: NVME_SC_INTERNAL as NvmeStatus, times: 10 });
    const before = ctrl.stats.ioCommands;
    expect(bio(m.k, m.dev(NVME_CMB_BDF).ctrl.namespaces[0]!, true, 0, ramBuffer(m.k, 4096), 4096)()).toBe(BLK_STS_IOERR);
    expect(ctrl.stats.ioCommands - before).toBe(6);
  });
});

describe('timeouts and misbehaving completions', () => {
  test('a command the controller takes 60 s to process times out at 30 s; its late completion is an invalid id', () => {
    const m = machine({ overrides: { [NVME_CMB_BDF]: { processing: { delayNs: 60e9 } } } });
    const ns = m.dev(NVME_CMB_BDF).ctrl.namespaces[0]!;
    const st = bio(m.k, ns, true, 0, ramBuffer(m.k, 4096), 4096, { run: false });
    m.k.clock.advance(30e9);
    expect(st()).toBe(BLK_STS_IOERR);
    expect(m.k.log.grep('nvme nvme0: I/O 0 QID 1 timeout, aborting')).toHaveLength(1);
    m.k.clock.runUntilIdle();
    expect(m.k.log.grep('nvme nvme0: invalid id 0 completed on queue 1')).toHaveLength(1);
    expect(m.dev(NVME_CMB_BDF).stats.invalidCompletions).toBe(1);
    expect(nvmeErrorStatus((NVME_SC_ABORT_REQ | NVME_SC_DNR) as NvmeStatus, 'v2')).toBe(BLK_STS_IOERR);
  });

  test('4.16: a P2P request that can never be mapped (virtual DMA ops) is BLK_STS_RESOURCE and retried forever', () => {
    const m = machine({ policy: 'v2' });
    const nvme = m.pdev(NVME_CMB_BDF);
    const ns = m.dev(NVME_CMB_BDF).ctrl.namespaces[0]!;
    const buf = p2pBuffer(m.k, nvme, 4096);
    nvme.dmaOps = 'virt';
    const st = bio(m.k, ns, true, 0, buf, 4096, { p2p: true, run: false });
    m.k.clock.advance(30e6);
    expect(st()).toBe(null);
    expect(m.dev(NVME_CMB_BDF).stats.mapFailures).toBeGreaterThan(5);
    expect(m.ctrl(NVME_CMB_BDF).trace.filter((t) => t.qid > 0)).toHaveLength(0);
  });
});

describe('remove', () => {
  test('unregistering the driver removes every controller; registering again reuses instance numbers', () => {
    const m = machine();
    m.drv.exit();
    m.k.clock.runUntilIdle();
    expect(m.drv.devices()).toHaveLength(0);
    expect(m.k.sysfs.exists('/sys/class/nvme/nvme0')).toBe(false);
    const again = nvmeInit(m.k);
    if (typeof again === 'number') throw new Error(String(again));
    expect(again.devices().map((d) => d.ctrl.name)).toEqual(['nvme0', 'nvme1']);
    expect(again.devices()[0]!.cmbSize).toBe(64 << 20);
  });

  test.each(['v2', 'upstream'] as const)('%s: queues deleted on the controller, memory and vectors freed, disks gone', (policy) => {
    const m = machine({ policy });
    const pdev = m.pdev(NVME_CMB_BDF);
    const ns = m.dev(NVME_CMB_BDF).ctrl.namespaces[0]!;
    const buf = ramBuffer(m.k, 4096);
    expect(bio(m.k, ns, true, 0, buf, 4096)()).toBe(BLK_STS_OK);
    deviceReleaseDriver(pdev);
    m.k.clock.runUntilIdle();
    const c = m.ctrl(NVME_CMB_BDF);
    expect([...c.sqs.keys()]).toEqual([0]);
    expect(c.trace.slice(-8).map((t) => t.opcode)).toEqual([0, 4, 0, 4, 0, 4, 0, 4]);
    expect(m.k.dmaDebug.liveMappings(pdev)).toHaveLength(0);
    expect(msixStats(pdev, 0).handlers + msixStats(pdev, 3).handlers).toBe(0);
    expect(m.drv.devices().map((d) => d.pdev.name)).toEqual([NVME_NOCMB_BDF]);
    // The namespace queue is dead: new I/O fails without reaching anything.
    expect(bio(m.k, ns, true, 0, buf, 4096)()).toBe(BLK_STS_IOERR);
    expect(c.trace.filter((t) => t.qid > 0)).toHaveLength(1);
  });
});
