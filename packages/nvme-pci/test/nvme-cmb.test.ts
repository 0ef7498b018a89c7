/**
 * Seed patches 07 and 09 in the host driver: CMB decoding, registration with p2pdma, publishing,
 * the `cmb` sysfs attribute, SQs in the CMB with the depth `nvme_cmb_qdepth` picks, the
 * fallbacks, the pseudo-CMB quirk, and release on remove.
 */
import { deviceReleaseDriver, FAULT_GENPOOL_ALLOC } from '@p2pdma/kernel';
import { BLK_STS_OK } from '@p2pdma/blk';
import type { TopologySpec } from '@p2pdma/pci-core';
import { bar, pciBusAddress, topology } from '@p2pdma/pci-core';
import { pciHasP2pmem, pciP2pdma } from '@p2pdma/p2pdma';
import { describe, expect, test } from 'vitest';
import type { NvmeCmbFlag } from '../src/index';
import { NVME_CSTS_SHST_CMPLT, NVME_CSTS_SHST_MASK, NVME_VS, nvmeCmbDecode, nvmeCmbSizeUnit, nvmeEncodeCmbLayout, SZ_16M } from '../src/index';
import { bio, diffBytes, machine, NVME_CMB_BDF, NVME_NOCMB_BDF, p2pBuffer, pattern, ramBuffer } from './helpers';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

describe('nvme_cmb_size_unit / nvme_map_cmb decoding (patch 07)', () => {
  test('every SZU value: 4 KiB x 16^SZU, reserved 13-15 as x86 masks the shift count', () => {
    const units = Array.from({ length: 16 }, (_, szu) => nvmeCmbSizeUnit(szu << 8));
    expect(units).toEqual([
      4096n,
      65536n,
      1048576n,
      16777216n,
      268435456n,
      4294967296n,
      68719476736n,
      1n << 40n,
      1n << 44n,
      1n << 48n,
      1n << 52n,
      1n << 56n,
      1n << 60n,
      1n, // 1ULL << 64: x86 uses the count mod 64
      16n,
      256n,
    ]);
  });

  test('every SZU value against a 64 MiB BAR: size = unit x SZ, clamped to the BAR past it', () => {
    const bar64 = 64 * MiB;
    const rows = Array.from({ length: 16 }, (_, szu) => {
      const d = nvmeCmbDecode((3 << 12) | (szu << 8) | 0x18, 2, bar64);
      return d.ok ? [szu, d.size, d.clamped] : [szu, d.reason];
    });
    expect(rows).toEqual([
      [0, 3 * 4096, false],
      [1, 3 * 65536, false],
      [2, 3 * MiB, false],
      [3, 48 * MiB, false],
      [4, bar64, true],
      [5, bar64, true],
      [6, bar64, true],
      [7, bar64, true],
      [8, bar64, true],
      [9, bar64, true],
      [10, bar64, true],
      [11, bar64, true],
      [12, bar64, true],
      [13, 3, false],
      [14, 48, false],
      [15, 768, false],
    ]);
  });

  test('an offset past the end of the BAR means no CMB; an offset at the end leaves 0 bytes', () => {
    // SZU 1 MiB, OFST 65 on a 64 MiB BAR.
    expect(nvmeCmbDecode((1 << 12) | (2 << 8), (65 << 12) | 2, 64 * MiB)).toEqual({ ok: false, bar: 2, reason: 'offset-past-bar' });
    const atEnd = nvmeCmbDecode((1 << 12) | (2 << 8), (64 << 12) | 2, 64 * MiB);
    expect(atEnd).toMatchObject({ ok: true, offset: 64 * MiB, size: 0, clamped: true });
    // A BAR that is not assigned has length 0: any offset > 0 is past it.
    expect(nvmeCmbDecode((1 << 12) | (2 << 8), (1 << 12) | 5, 0)).toMatchObject({ ok: false, bar: 5 });
  });
});

describe.each(['v2', 'upstream'] as const)('nvme_map_cmb on a controller (policy %s)', (policy) => {
  test('patch 07: the builtin NoLoad CMB is registered, published, shown in sysfs and holds the I/O SQs', () => {
    const m = machine({ policy });
    const dev = m.dev(NVME_CMB_BDF);
    const pdev = m.pdev(NVME_CMB_BDF);
    expect(dev.cmbSize).toBe(64 * MiB);
    expect(dev.cmbUseSqes).toBe(true);
    expect(pciHasP2pmem(pdev)).toBe(true);
    expect(m.k.sysfs.read('/sys/class/nvme/nvme0/cmb')).toBe('cmbloc : x00000002\ncmbsz  : x0000431b\n');
    expect(m.k.sysfs.read(`/sys/bus/pci/devices/${NVME_CMB_BDF}/p2pmem/size`)).toBe(`${64 * MiB}\n`);
    // The admin queue stays in host memory; the four I/O SQs of 1024 entries are in the CMB.
    expect(dev.qDepth).toBe(1024);
    expect(dev.queues.map((q) => q.sqCmdsIsIo)).toEqual([false, true, true, true, true]);
    const base = pciBusAddress(pdev, 2);
    for (const q of dev.queues.slice(1)) expect(q.sqDmaAddr >= base && q.sqDmaAddr < base + 64 * MiB).toBe(true);
    expect(m.k.sysfs.read(`/sys/bus/pci/devices/${NVME_CMB_BDF}/p2pmem/available`)).toBe(`${64 * MiB - 4 * 65536}\n`);
    // The drive without a CMB has no attribute and no p2pmem.
    expect(m.dev(NVME_NOCMB_BDF).cmbSize).toBe(0);
    expect(m.k.sysfs.exists('/sys/class/nvme/nvme1/cmb')).toBe(false);
    expect(pciP2pdma(m.pdev(NVME_NOCMB_BDF))).toBe(null);
  });

  test('patch 07: commands submitted through CMB SQs complete and the SQE fetches stay inside the device', () => {
    const m = machine({ policy });
    const ns = m.dev(NVME_CMB_BDF).ctrl.namespaces[0]!;
    const buf = ramBuffer(m.k, 8192);
    const data = pattern(8192, 5);
    buf.fill(data);
    m.sys.fabric.resetCounters();
    expect(bio(m.k, ns, true, 0, buf, 8192)()).toBe(BLK_STS_OK);
    // 64 bytes of SQE fetched from the CMB SQ, internally; the data came from DRAM.
    const c = m.sys.fabric.counters();
    expect(c.devices[NVME_CMB_BDF]!.internal).toBe(64);
    expect(c.dram.read).toBe(8192);
    buf.fill(new Uint8Array(8192));
    expect(bio(m.k, ns, false, 0, buf, 8192)()).toBe(BLK_STS_OK);
    expect(diffBytes(buf.read(), data)).toBe('equal');
  });

  test('patch 07: published only with both WDS and RDS', () => {
    const cases: Array<[NvmeCmbFlag[], boolean]> = [
      [['SQS'], false],
      [['SQS', 'WDS'], false],
      [['SQS', 'RDS'], false],
      [['WDS', 'RDS'], true],
      [['SQS', 'CQS', 'LISTS', 'RDS', 'WDS'], true],
    ];
    const got = cases.map(([flags]) => {
      const m = machine({ policy, overrides: { [NVME_CMB_BDF]: { cmb: { bar: 2, size: 64 * MiB, flags } } } });
      const pdev = m.pdev(NVME_CMB_BDF);
      return [flags, m.dev(NVME_CMB_BDF).cmbSize === 64 * MiB, pciHasP2pmem(pdev), m.k.sysfs.read(`/sys/bus/pci/devices/${NVME_CMB_BDF}/p2pmem/published`)];
    });
    expect(got).toEqual(cases.map(([flags, pub]) => [flags, true, pub, pub ? '1\n' : '0\n']));
  });

  test('patch 07: a CMB described larger than its BAR is clamped to the BAR', () => {
    // 256 MiB described (SZU 16 MiB, SZ 16) on the 64 MiB BAR 2.
    const m = machine({ policy, overrides: { [NVME_CMB_BDF]: { cmb: { cmbloc: 2, cmbsz: (16 << 12) | (3 << 8) | 0x1f } } } });
    const dev = m.dev(NVME_CMB_BDF);
    expect(dev.cmbSize).toBe(64 * MiB);
    expect(m.k.sysfs.read(`/sys/bus/pci/devices/${NVME_CMB_BDF}/p2pmem/size`)).toBe(`${64 * MiB}\n`);
    expect(m.k.log.grep(`nvme-ctrl ${NVME_CMB_BDF}: CMB of 268435456 bytes described, BAR 2 holds only 67108864 of it`)).toHaveLength(1);
    expect(m.k.sysfs.read('/sys/class/nvme/nvme0/cmb')).toBe('cmbloc : x00000002\ncmbsz  : x0001031f\n');
  });

  test('patch 07: a CMB whose offset is past its BAR is refused: no p2pmem, no attribute', () => {
    // OFST 65 MiB-units of 1 MiB on the 64 MiB BAR 2.
    const m = machine({ policy, overrides: { [NVME_CMB_BDF]: { cmb: { cmbloc: (65 << 12) | 2, cmbsz: (1 << 12) | (2 << 8) | 0x1f } } } });
    const dev = m.dev(NVME_CMB_BDF);
    expect(dev.cmbSize).toBe(0);
    expect(dev.cmbsz).toBe((1 << 12) | (2 << 8) | 0x1f);
    expect(pciP2pdma(m.pdev(NVME_CMB_BDF))).toBe(null);
    expect(m.k.sysfs.exists('/sys/class/nvme/nvme0/cmb')).toBe(false);
    expect(dev.queues.slice(1).every((q) => !q.sqCmdsIsIo)).toBe(true);
    expect(m.k.log.grep(`nvme-ctrl ${NVME_CMB_BDF}: CMB has no memory: CMB offset 0x4100000 is past the end of BAR 2 (0x4000000 bytes)`)).toHaveLength(1);
    // An offset exactly at the end leaves size 0 = "the rest of the BAR" for p2pdma, which refuses it.
    const m2 = machine({ policy, overrides: { [NVME_CMB_BDF]: { cmb: { cmbloc: (64 << 12) | 2, cmbsz: (1 << 12) | (2 << 8) | 0x1f } } } });
    expect(m2.dev(NVME_CMB_BDF).cmbSize).toBe(0);
    expect(m2.k.log.grep('nvme nvme0: failed to register the CMB')).toHaveLength(policy === 'upstream' ? 1 : 0);
  });

  test('nvme_cmb_qdepth: a CMB too small for the SQs at full depth shrinks them to an equal share', () => {
    // 2 MiB CMB, 64 I/O queues of 1024 x 64 bytes (4 MiB) do not fit: 32 KiB each holds 512 entries.
    const m = machine({ policy, params: { nrCpus: 64 }, overrides: { [NVME_CMB_BDF]: { maxQueuePairs: 65, cmb: { bar: 2, size: 2 * MiB, flags: ['SQS', 'WDS', 'RDS'] } } } });
    const dev = m.dev(NVME_CMB_BDF);
    expect(dev.cmbSize).toBe(2 * MiB);
    expect(dev.qDepth).toBe(512);
    expect(dev.tagset!.queueDepth).toBe(511);
    expect(dev.queues).toHaveLength(65);
    expect(dev.queues[0]!.qDepth).toBe(32);
    expect(dev.queues.slice(1).every((q) => q.qDepth === 512 && q.sqCmdsIsIo)).toBe(true);
    expect(m.k.sysfs.read(`/sys/bus/pci/devices/${NVME_CMB_BDF}/p2pmem/available`)).toBe('0\n');
    const ns = dev.ctrl.namespaces[0]!;
    const buf = ramBuffer(m.k, 4096);
    buf.fill(pattern(4096, 6));
    expect(bio(m.k, ns, true, 0, buf, 4096)()).toBe(BLK_STS_OK);
  });

  test('nvme_cmb_qdepth: below 64 entries the SQs stay in host memory at full depth', () => {
    // 2 MiB CMB shared by 1024 queues: 2 KiB = 32 entries each < 64 → -ENOMEM → cmb_use_sqes = false.
    const m = machine({ policy, params: { nrCpus: 1024, ioQueueDepth: 64 }, overrides: { [NVME_CMB_BDF]: { maxQueuePairs: 1025, cmb: { bar: 2, size: 2 * MiB, flags: ['SQS', 'WDS', 'RDS'] } } } });
    const dev = m.dev(NVME_CMB_BDF);
    expect(dev.cmbSize).toBe(2 * MiB);
    expect(dev.cmbUseSqes).toBe(false);
    expect(dev.qDepth).toBe(64);
    expect(dev.queues).toHaveLength(1025);
    expect(dev.queues.every((q) => !q.sqCmdsIsIo)).toBe(true);
    const ns = dev.ctrl.namespaces[0]!;
    const buf = ramBuffer(m.k, 4096);
    const data = pattern(4096, 7);
    buf.fill(data);
    expect(bio(m.k, ns, true, 512, buf, 4096)()).toBe(BLK_STS_OK);
    expect(diffBytes(m.ctrl(NVME_CMB_BDF).media(1)!.peek(512, 4096), data)).toBe('equal');
  });

  test('use_cmb_sqes=0 keeps every SQ in host memory but still registers and publishes the CMB', () => {
    const m = machine({ policy, params: { useCmbSqes: false } });
    const dev = m.dev(NVME_CMB_BDF);
    expect(dev.cmbSize).toBe(64 * MiB);
    expect(dev.cmbUseSqes).toBe(false);
    expect(dev.queues.every((q) => !q.sqCmdsIsIo)).toBe(true);
    expect(pciHasP2pmem(m.pdev(NVME_CMB_BDF))).toBe(true);
  });

  test('patch 07: an SQ the p2pmem pool cannot give falls back to host memory, per queue', () => {
    const m = machine({ policy, beforeDriver: (k) => k.faults.inject(FAULT_GENPOOL_ALLOC, { nth: 2, times: 1 }) });
    const dev = m.dev(NVME_CMB_BDF);
    expect(dev.queues.map((q) => q.sqCmdsIsIo)).toEqual([false, true, false, true, true]);
    const ns = dev.ctrl.namespaces[0]!;
    const buf = ramBuffer(m.k, 4096);
    buf.fill(pattern(4096, 8));
    expect(bio(m.k, ns, true, 0, buf, 4096)()).toBe(BLK_STS_OK);
  });

  test('remove: the cmb attribute goes, the SQs go back to the pool, then p2pdma releases the CMB', () => {
    const m = machine({ policy });
    const pdev = m.pdev(NVME_CMB_BDF);
    deviceReleaseDriver(pdev);
    m.k.clock.runUntilIdle();
    expect(m.k.sysfs.exists('/sys/class/nvme/nvme0/cmb')).toBe(false);
    expect(m.k.sysfs.exists('/sys/class/nvme/nvme0')).toBe(false);
    expect(pciP2pdma(pdev)).toBe(null);
    expect(m.k.sysfs.exists(`/sys/bus/pci/devices/${NVME_CMB_BDF}/p2pmem`)).toBe(false);
    // Normal shutdown (4.16 nvme_dev_disable with shutdown): I/O queues deleted, SHST complete.
    expect(m.ctrl(NVME_CMB_BDF).csts & NVME_CSTS_SHST_MASK).toBe(NVME_CSTS_SHST_CMPLT);
    expect([...m.ctrl(NVME_CMB_BDF).sqs.keys()]).toEqual([0]);
    expect(m.k.dmaDebug.liveCount()).toBe(m.k.dmaDebug.liveMappings().filter((e) => e.dev.name !== NVME_CMB_BDF).length);
  });
});

test('a 128 KiB CMB: 4.16 registers it (SQs shrunk to 512 entries); 6.6 cannot memremap less than a 2 MiB subsection', () => {
  const cmb = { [NVME_CMB_BDF]: { cmb: { bar: 2, size: 128 * 1024, flags: ['SQS', 'WDS', 'RDS'] as NvmeCmbFlag[] } } };
  const v2 = machine({ policy: 'v2', overrides: cmb });
  expect([v2.dev(NVME_CMB_BDF).cmbSize, v2.dev(NVME_CMB_BDF).qDepth]).toEqual([128 * 1024, 512]);
  const up = machine({ policy: 'upstream', overrides: cmb });
  expect([up.dev(NVME_CMB_BDF).cmbSize, up.dev(NVME_CMB_BDF).qDepth]).toEqual([0, 1024]);
  expect(up.k.log.grep('nvme nvme0: failed to register the CMB')).toHaveLength(1);
  expect(up.k.sysfs.exists('/sys/class/nvme/nvme0/cmb')).toBe(false);
});

test('4.16: the CMB is mapped only for NVMe 1.2+ controllers; 6.6 maps it regardless', () => {
  const old = { [NVME_CMB_BDF]: { vs: NVME_VS(1, 1, 0) } };
  expect(machine({ policy: 'v2', overrides: old }).dev(NVME_CMB_BDF).cmbSize).toBe(0);
  expect(machine({ policy: 'upstream', overrides: old }).dev(NVME_CMB_BDF).cmbSize).toBe(64 * MiB);
});

function pseudoCmbMachine(): TopologySpec {
  const adaptor = (vendor: number, device: number, bar4: number, label: string) => ({
    role: 'nvme' as const,
    vendor,
    device,
    label,
    link: [3, 8] as [number, number],
    bars: [bar.mem64(0, 16 * 1024), bar.mem64(4, bar4, true)],
  });
  return topology('pseudo-cmb')
    .cpu({ vendor: 'intel', family: 6 })
    .systemRam([
      { base: 0, size: 2 * GiB },
      { base: 4 * GiB, size: 2 * GiB },
    ])
    .hostBridge({ vendor: 0x8086, device: 0x6f00, memWindow: { cpuBase: 2 * GiB, size: 1 * GiB } }, (hb) => {
      hb.rootPort('00:03.0', { vendor: 0x8086, device: 0x6f08, link: [3, 16] }, (rp) => {
        rp.switch({ vendor: 0x10b5, device: 0x8747, link: [3, 16] }, (sw) => {
          sw.port({ slot: 8, link: [3, 8] }, (p) => p.endpoint(adaptor(0x11f8, 0xf117, 16 * MiB, 'Microsemi NVRAM adaptor')));
          sw.port({ slot: 9, link: [3, 8] }, (p) => p.endpoint(adaptor(0x1db1, 0x0002, 256 * MiB, 'Everspin nvNitro adaptor')));
        });
      });
    })
    .build();
}

describe.each(['v2', 'upstream'] as const)('patch 09: NVME_QUIRK_PSEUDO_CMB_BAR4 (policy %s)', (policy) => {
  test('CMBSZ = WDS|RDS|SZU 16 MiB|BAR4/16 MiB and CMBLOC = 4 for a 16 MiB and a 256 MiB BAR 4', () => {
    const m = machine({ policy, spec: pseudoCmbMachine() });
    const [microsemi, everspin] = m.drv.devices();
    // The hardware reports no CMB registers at all.
    expect(m.ctrls.map((c) => [c.cmbloc, c.cmbsz])).toEqual([
      [0, 0],
      [0, 0],
    ]);
    expect([microsemi!.cmbsz, microsemi!.cmbloc, microsemi!.cmbSize]).toEqual([0x1318, 4, 16 * MiB]);
    expect([everspin!.cmbsz, everspin!.cmbloc, everspin!.cmbSize]).toEqual([0x10318, 4, 256 * MiB]);
    expect(m.k.sysfs.read('/sys/class/nvme/nvme0/cmb')).toBe('cmbloc : x00000004\ncmbsz  : x00001318\n');
    expect(m.k.sysfs.read('/sys/class/nvme/nvme1/cmb')).toBe('cmbloc : x00000004\ncmbsz  : x00010318\n');
    // WDS and RDS: published; no SQS: the SQs stay in host memory.
    expect(m.drv.devices().map((d) => [pciHasP2pmem(d.pdev), d.cmbUseSqes])).toEqual([
      [true, false],
      [true, false],
    ]);
    expect(SZ_16M).toBe(16 * MiB);
  });

  test('the pseudo-CMB carries write data: a P2P write from it stays inside the adaptor', () => {
    const m = machine({ policy, spec: pseudoCmbMachine() });
    const d = m.drv.devices()[0]!;
    const ns = d.ctrl.namespaces[0]!;
    const buf = p2pBuffer(m.k, d.pdev, 8192);
    const data = pattern(8192, 11);
    buf.fill(data);
    m.sys.fabric.resetCounters();
    expect(bio(m.k, ns, true, 0, buf, 8192, { p2p: true })()).toBe(BLK_STS_OK);
    expect(m.sys.fabric.counters().devices[d.pdev.name]!.internal).toBe(8192);
    expect(diffBytes(m.ctrls[0]!.media(1)!.peek(0, 8192), data)).toBe('equal');
  });
});

test('the controller model encodes a CMB layout with the largest size unit that expresses it', () => {
  expect(nvmeEncodeCmbLayout('t', { bar: 2, size: 64 * MiB, flags: ['SQS', 'CQS', 'RDS', 'WDS'] })).toEqual({ cmbloc: 2, cmbsz: 0x431b });
  expect(nvmeEncodeCmbLayout('t', { bar: 0, size: 8192, offset: 8192, flags: ['SQS'] })).toEqual({ cmbloc: 0x2000, cmbsz: 0x2001 });
  expect(() => nvmeEncodeCmbLayout('t', { bar: 2, size: 1000, flags: [] })).toThrow(
    "nvme controller config 't': cmb.size: 1000 bytes at offset 0 cannot be expressed in CMBSZ/CMBLOC (multiples of 4 KiB, at most 0xfffff size units)",
  );
  expect(() => nvmeEncodeCmbLayout('t', { bar: 6, size: 4096, flags: [] })).toThrow("nvme controller config 't': cmb.bar: 6 must be an integer from 0 to 5");
});
