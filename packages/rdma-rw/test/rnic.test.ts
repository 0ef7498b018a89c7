/**
 * The RNIC hardware model (BAR 0 register file, doorbell) and the mlx5 driver model's probe
 * (mlx5_load_one: firmware version line, cmdif check, initializing check, IB device).
 */
import { deviceReleaseDriver, KERN_DEBUG, KERN_ERR, KERN_INFO, KERN_WARNING, Kernel } from '@p2pdma/kernel';
import { enumerate, getBuiltin, kernelOptionsForTopology, pciRegisterDriver, pciResourceStart } from '@p2pdma/pci-core';
import { describe, expect, test } from 'vitest';
import {
  IB_QPS_ERR,
  IB_QPS_RTS,
  IB_WC_WR_FLUSH_ERR,
  IB_WR_RDMA_READ,
  ibDeviceGetByName,
  ibDevices,
  ibPollCq,
  ibPostSend,
  MLX5_INIT_SEG_CMDQ_ADDR_H,
  MLX5_INIT_SEG_CMD_DBELL,
  MLX5_INIT_SEG_FW_REV,
  MLX5_INIT_SEG_INITIALIZING,
  MLX5_INIT_SEG_INTERNAL_TIMER_L,
  MLX5_INIT_SEG_REGISTERS,
  MLX5_RESERVED_LKEY,
  MLX5_UAR_SQ_DOORBELL,
  mlx5CoreDriver,
  mlx5IbDevice,
  rnicAttach,
  rnicOf,
} from '../src/index';
import { connect, machine, ok, ramBuffer } from './helpers';

function bare(opts: Parameters<typeof rnicAttach>[1] | null) {
  const spec = getBuiltin('seed-switch')!;
  const k = new Kernel(kernelOptionsForTopology(spec));
  const sys = enumerate(k, spec);
  if ('error' in sys) throw new Error(sys.error.message);
  const rnic = sys.devices().find((d) => d.role === 'rnic')!;
  if (opts !== null) ok(rnicAttach(rnic, opts));
  return { k, sys, rnic, bar0: pciResourceStart(rnic, 0) };
}

function be32(k: Kernel, phys: number): number {
  const b = ok(k.memory.cpuRead(phys, 4));
  return new DataView(b.buffer, b.byteOffset, 4).getUint32(0, false);
}

describe('mlx5_core probe (mlx5_load_one)', () => {
  test('binds the ConnectX-5 of the seed machine, logs the firmware version and registers mlx5_0 with the PCI function as DMA device', () => {
    const m = machine();
    expect(m.k.log.grep('mlx5_core').map((l) => [l.level, l.text])).toEqual([[KERN_INFO, 'mlx5_core 0000:03:00.0: firmware version: 16.27.2008']]);
    expect(m.ib.name).toBe('mlx5_0');
    expect(m.ib.dmaDevice).toBe(m.rnic);
    expect(m.ib.dev.parent).toBe(m.rnic);
    expect(m.ib.localDmaLkey).toBe(MLX5_RESERVED_LKEY);
    expect(m.ib.attrs.fwVer).toBe('16.27.2008');
    expect(ibDeviceGetByName(m.k, 'mlx5_0')).toBe(m.ib);
    expect(m.k.sysfs.exists('/sys/class/infiniband/mlx5_0')).toBe(true);
    expect(rnicOf(m.rnic)!.ibdev).toBe(m.ib);
  });

  test('a firmware speaking another command interface revision is refused with -EINVAL and the kernel line', () => {
    const { k, rnic } = bare({ cmdifRev: 4 });
    expect(pciRegisterDriver(k, mlx5CoreDriver())).toBe(0);
    expect(k.log.grep('mlx5_core 0000:03:00.0').map((l) => l.text)).toEqual([
      'mlx5_core 0000:03:00.0: firmware version: 16.27.2008',
      "mlx5_core 0000:03:00.0: Driver cmdif rev(5) differs from firmware's(4)",
      'mlx5_core 0000:03:00.0: probe with driver mlx5_core failed with error -22',
    ]);
    expect(mlx5IbDevice(rnic)).toBeNull();
    expect(ibDevices(k)).toEqual([]);
  });

  test('firmware stuck initializing: -EBUSY with the 4.16 timeout line', () => {
    const { k, rnic } = bare({ stuckInInit: true });
    pciRegisterDriver(k, mlx5CoreDriver());
    expect(k.log.grep('initializing').map((l) => [l.level, l.text])).toEqual([
      [KERN_ERR, 'mlx5_core 0000:03:00.0: Firmware over 2000 MS in initializing state, aborting'],
    ]);
    expect(k.log.grep('failed with error -16')).toHaveLength(1);
    expect(mlx5IbDevice(rnic)).toBeNull();
  });

  test('a function without the RNIC hardware reads zeros: firmware 0.0.0 and cmdif 0, refused', () => {
    const { k, rnic } = bare(null);
    pciRegisterDriver(k, mlx5CoreDriver());
    expect(k.log.grep('mlx5_core 0000:03:00.0:').map((l) => l.text).slice(0, 2)).toEqual([
      'mlx5_core 0000:03:00.0: firmware version: 0.0.0',
      "mlx5_core 0000:03:00.0: Driver cmdif rev(5) differs from firmware's(0)",
    ]);
    expect(mlx5IbDevice(rnic)).toBeNull();
  });

  test('unbinding unregisters mlx5_0 and moves its QPs to the error state (posted WRs flush)', () => {
    const m = machine();
    const c = connect(m.ib);
    const buf = ramBuffer(m.k, 4096);
    expect(ibPostSend(c.qp, { next: null, wrCqe: null, sgList: [{ addr: buf - 2 ** 52, length: 4096, lkey: c.pd.localDmaLkey }], numSge: 1, opcode: IB_WR_RDMA_READ, sendFlags: 0, remoteAddr: 0, rkey: c.mr.rkey })).toBe(0);
    expect(c.qp.state).toBe(IB_QPS_RTS);
    deviceReleaseDriver(m.rnic);
    expect(c.qp.state).toBe(IB_QPS_ERR);
    expect(m.ib.registered).toBe(false);
    expect(ibDeviceGetByName(m.k, 'mlx5_0')).toBeNull();
    expect(m.k.sysfs.exists('/sys/class/infiniband/mlx5_0')).toBe(false);
    m.k.clock.runUntilIdle();
    expect(ibPollCq(c.cq, 8).map((w) => w.status)).toEqual([IB_WC_WR_FLUSH_ERR]);
  });
});

describe('RNIC BAR 0 register file (mlx5 initialization segment)', () => {
  test('the register table is ordered by offset, without overlaps, inside the first 16 KiB', () => {
    for (let i = 1; i < MLX5_INIT_SEG_REGISTERS.length; i++) {
      const a = MLX5_INIT_SEG_REGISTERS[i - 1]!;
      const b = MLX5_INIT_SEG_REGISTERS[i]!;
      expect(a.offset + a.width).toBeLessThanOrEqual(b.offset);
    }
    expect(MLX5_UAR_SQ_DOORBELL + 8).toBeLessThanOrEqual(16384);
  });

  test('registers read big-endian through CPU MMIO; the timer follows the virtual clock; unknown offsets read 0', () => {
    const { k, bar0 } = bare({ fwRev: { major: 16, minor: 35, subminor: 1012 } });
    expect(be32(k, bar0 + MLX5_INIT_SEG_FW_REV)).toBe((35 << 16) | 16);
    expect(be32(k, bar0 + MLX5_INIT_SEG_FW_REV + 4)).toBe((5 << 16) | 1012);
    expect(be32(k, bar0 + MLX5_INIT_SEG_INITIALIZING)).toBe(0);
    k.clock.advance(123_456);
    expect(be32(k, bar0 + MLX5_INIT_SEG_INTERNAL_TIMER_L)).toBe(123_456);
    expect(be32(k, bar0 + 0x3000)).toBe(0);
    // A 16-byte read spanning FW_REV, CMDIF and the reserved words.
    const b = ok(k.memory.cpuRead(bar0, 16));
    expect([...b.subarray(0, 8)]).toEqual([0x00, 0x23, 0x00, 0x10, 0x00, 0x05, 0x03, 0xf4]);
  });

  test('writes to read-only registers, unknown offsets or with the wrong width are logged and ignored', () => {
    const { k, rnic, bar0 } = bare({});
    k.log.clear();
    expect(k.memory.cpuWrite(bar0 + MLX5_INIT_SEG_FW_REV, new Uint8Array(4).fill(0xff))).toBe(0);
    k.memory.cpuWrite(bar0 + 0x100, new Uint8Array(4));
    k.memory.cpuWrite(bar0 + MLX5_INIT_SEG_CMDQ_ADDR_H, new Uint8Array(2));
    expect(k.log.lines().map((l) => [l.level, l.text])).toEqual([
      [KERN_WARNING, 'pci 0000:03:00.0: rnic: 4-byte write at BAR 0 offset 0x0 ignored: FW_REV is read-only'],
      [KERN_WARNING, 'pci 0000:03:00.0: rnic: 4-byte write at BAR 0 offset 0x100 ignored: no register there'],
      [KERN_WARNING, 'pci 0000:03:00.0: rnic: 2-byte write at BAR 0 offset 0x10 ignored: CMDQ_ADDR_H is 4 bytes wide'],
    ]);
    expect(be32(k, bar0 + MLX5_INIT_SEG_FW_REV)).toBe((27 << 16) | 16);
    expect(rnicOf(rnic)!.stats.ignoredWrites).toBe(3);
  });

  test('read-write registers keep what is written; the command doorbell is ignored at debug level', () => {
    const { k, bar0 } = bare({});
    k.memory.cpuWrite(bar0 + MLX5_INIT_SEG_CMDQ_ADDR_H, Uint8Array.of(0x12, 0x34, 0x56, 0x78));
    expect(be32(k, bar0 + MLX5_INIT_SEG_CMDQ_ADDR_H)).toBe(0x12345678);
    k.log.clear();
    k.memory.cpuWrite(bar0 + MLX5_INIT_SEG_CMD_DBELL, Uint8Array.of(0, 0, 0, 1));
    expect(k.log.lines().map((l) => [l.level, l.text])).toEqual([
      [KERN_DEBUG, 'pci 0000:03:00.0: rnic: command doorbell ignored (the command interface is not modelled)'],
    ]);
  });

  test('a doorbell for an unknown QP or past the posted WQEs is logged and ignored; nothing executes', () => {
    const m = machine();
    const c = connect(m.ib);
    const bar0 = pciResourceStart(m.rnic, 0);
    const db = (counter: number, qpn: number) => {
      const b = new Uint8Array(8);
      const dv = new DataView(b.buffer);
      dv.setUint32(0, counter << 8, false);
      dv.setUint32(4, qpn << 8, false);
      m.k.memory.cpuWrite(bar0 + MLX5_UAR_SQ_DOORBELL, b);
    };
    m.k.log.clear();
    db(1, 0xabc);
    db(3, c.qp.qpNum);
    expect(m.k.log.lines().map((l) => l.text)).toEqual([
      'mlx5_core 0000:03:00.0: rnic: 8-byte write at BAR 0 offset 0x2800 ignored: doorbell for unknown QP 0xabc',
      `mlx5_core 0000:03:00.0: rnic: 8-byte write at BAR 0 offset 0x2800 ignored: doorbell counter 3 is past the 0 WQE(s) posted on QP 0x${c.qp.qpNum.toString(16)}`,
    ]);
    expect(m.k.clock.pending()).toBe(0);
    expect(rnicOf(m.rnic)!.stats.doorbells).toBe(0);
  });

  test('rnicAttach refuses a second attach (-EBUSY)', () => {
    const { rnic } = bare({});
    expect(rnicAttach(rnic)).toBe(-16);
  });
});
