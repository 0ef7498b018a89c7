/** Shared fixtures: the seed's machine with the RNIC hardware and driver, RAM buffers, a connected QP. */
import type { DmaDirection, KernelOptions, P2pdmaPolicy, Scatterlist } from '@p2pdma/kernel';
import { isErr, Kernel, PAGE_SIZE, physToVirt, SgTable, sgAllocTable, sgSetBuf } from '@p2pdma/kernel';
import type { EnumerateHooks, PciDev, PciSubsystem } from '@p2pdma/pci-core';
import { enumerate, getBuiltin, kernelOptionsForTopology, pciRegisterDriver } from '@p2pdma/pci-core';
import type { IbCq, IbCqe, IbDevice, IbPd, IbQp, IbSendWr, IbWc, RemoteMr, RemoteQp } from '../src/index';
import {
  IB_ACCESS_REMOTE_READ,
  IB_ACCESS_REMOTE_WRITE,
  IB_POLL_DIRECT,
  IB_QPT_RC,
  IB_SIGNAL_REQ_WR,
  ibAllocCq,
  ibAllocPd,
  ibCreateQp,
  ibPollCq,
  mlx5CoreDriver,
  mlx5IbDevice,
  RemoteHost,
  rdmaConnect,
  rnicAttach,
} from '../src/index';

/** Throws when a kernel API returned an errno: the fixtures expect success. */
export function ok<T>(v: T | number): T {
  if (typeof v === 'number' && isErr(v)) throw new Error(`unexpected errno ${v}`);
  return v as T;
}

export interface Machine {
  k: Kernel;
  sys: PciSubsystem;
  rnic: PciDev;
  card: PciDev;
  nvme: PciDev;
  ib: IbDevice;
}

export interface MachineOptions {
  builtin?: string;
  policy?: P2pdmaPolicy;
  iommu?: boolean;
  cmdline?: string;
  hooks?: (k: Kernel) => EnumerateHooks;
  kernel?: Partial<KernelOptions>;
}

/** Enumerates a built-in (default seed-switch), attaches the RNIC hardware and binds mlx5_core. */
export function machine(opts: MachineOptions = {}): Machine {
  const spec = getBuiltin(opts.builtin ?? 'seed-switch')!;
  const k = new Kernel({
    ...kernelOptionsForTopology(spec),
    ...(opts.iommu === undefined ? {} : { iommu: opts.iommu }),
    ...(opts.policy === undefined ? {} : { policy: opts.policy }),
    ...(opts.cmdline === undefined ? {} : { cmdline: opts.cmdline }),
    ...opts.kernel,
  });
  const sys = enumerate(k, spec, opts.hooks?.(k) ?? {});
  if ('error' in sys) throw new Error(sys.error.message);
  const byRole = (role: string) => sys.devices().find((d) => d.role === role)!;
  const rnic = byRole('rnic');
  ok(rnicAttach(rnic));
  if (pciRegisterDriver(k, mlx5CoreDriver()) !== 0) throw new Error('mlx5_core did not register');
  const ib = mlx5IbDevice(rnic);
  if (ib === null) throw new Error('mlx5_core did not bind');
  return { k, sys, rnic, card: byRole('p2pmem'), nvme: sys.devices().find((d) => d.role === 'nvme' && d.spec.nvme?.cmb !== undefined)!, ib };
}

/** A page-aligned RAM buffer of `bytes`, as its kernel virtual address. */
export function ramBuffer(k: Kernel, bytes: number): number {
  const phys = k.memory.allocPages(Math.max(1, Math.ceil(bytes / PAGE_SIZE)));
  if (phys === null) throw new Error('out of pages');
  return physToVirt(phys);
}

/** A scatterlist over kernel virtual ranges (RAM or p2pmem). */
export function sgOf(k: Kernel, parts: ReadonlyArray<{ virt: number; len: number }>): SgTable {
  const t = sgAllocTable(k, parts.length)!;
  let s: Scatterlist | null = t.sgl;
  for (const p of parts) {
    sgSetBuf(k, s!, p.virt, p.len);
    s = s!.next;
  }
  return t;
}

/** Reads bytes the CPU sees at a kernel virtual address (RAM or a BAR through MMIO). */
export function cpuRead(k: Kernel, virt: number, len: number): Uint8Array {
  return ok(k.memory.cpuRead(virt - 2 ** 52, len));
}

/** Writes bytes through the CPU at a kernel virtual address. */
export function cpuWrite(k: Kernel, virt: number, data: Uint8Array): void {
  if (k.memory.cpuWrite(virt - 2 ** 52, data) !== 0) throw new Error('cpuWrite faulted');
}

export interface Conn {
  pd: IbPd;
  cq: IbCq;
  qp: IbQp;
  remote: RemoteHost;
  rqp: RemoteQp;
  mr: RemoteMr;
}

/** A PD, a direct-polled CQ, an RC QP connected to a remote host exposing 1 MiB read/write at 0. */
export function connect(ib: IbDevice, opts: { maxSendWr?: number; maxSendSge?: number; remoteBytes?: number } = {}): Conn {
  const pd = ok(ibAllocPd(ib));
  const cq = ok(ibAllocCq(ib, 4096, IB_POLL_DIRECT));
  const qp = ok(
    ibCreateQp(pd, {
      sendCq: cq,
      recvCq: cq,
      cap: { maxSendWr: opts.maxSendWr ?? 64, maxRecvWr: 16, maxSendSge: opts.maxSendSge ?? 4, maxRecvSge: 2 },
      sqSigType: IB_SIGNAL_REQ_WR,
      qpType: IB_QPT_RC,
      portNum: 1,
    }),
  );
  const remote = new RemoteHost({ name: 'host0', memoryBytes: opts.remoteBytes ?? 1 << 20 });
  const rqp = remote.createQp();
  if (rdmaConnect(qp, rqp) !== 0) throw new Error('connect failed');
  const mr = ok(remote.regMr(0, remote.memory.length, IB_ACCESS_REMOTE_READ | IB_ACCESS_REMOTE_WRITE));
  return { pd, cq, qp, remote, rqp, mr };
}

/** Runs the virtual clock until nothing is pending and returns every completion polled. */
export function drain(k: Kernel, cq: IbCq): IbWc[] {
  k.clock.runUntilIdle();
  return ibPollCq(cq, 1 << 20);
}

/** Deterministic pattern bytes. */
export function pattern(len: number, seed: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < len; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
}

export type { DmaDirection };
export { SgTable };

/** The bytes a BAR holds at a CPU physical address, read from its backing (no fabric traffic). */
export function barBytes(dev: PciDev, bar: number, phys: number, len: number): Uint8Array {
  const out = new Uint8Array(len);
  dev.barBacking(bar)!.read(phys - dev.resource[bar]!.start, out);
  return out;
}

/** Where a scatterlist entry's data is in physical memory. */
export function physOf(sg: Scatterlist): number {
  return sg.page!.pfn * PAGE_SIZE + sg.offset;
}

/** Every direction value the rw API takes. */
export const DIRS: readonly DmaDirection[] = [1, 2];

/** A one-SGE RDMA/SEND work request. */
export function wr(
  opcode: IbSendWr['opcode'],
  addr: number,
  length: number,
  lkey: number,
  extra: Partial<Pick<IbSendWr, 'remoteAddr' | 'rkey' | 'sendFlags' | 'wrCqe' | 'next'>> = {},
): IbSendWr {
  return { next: null, wrCqe: null, sgList: [{ addr, length, lkey }], numSge: 1, opcode, sendFlags: 0, ...extra };
}

/** A completion entry recording its completions with the virtual time. */
export function recorder(k: Kernel): { cqe: IbCqe; seen: Array<{ wc: IbWc; at: number }> } {
  const seen: Array<{ wc: IbWc; at: number }> = [];
  return { cqe: { done: (_cq, wc) => seen.push({ wc, at: k.clock.now() }) }, seen };
}

/**
 * Compares byte arrays quickly (vitest's deep equality is slow on large typed arrays).
 * @returns `'equal'`, or where and how they first differ.
 */
export function sameBytes(a: Uint8Array, b: Uint8Array): string {
  if (a.length !== b.length) return `lengths differ: ${a.length} vs ${b.length}`;
  if (Buffer.compare(a, b) === 0) return 'equal';
  let i = 0;
  while (a[i] === b[i]) i++;
  return `first difference at byte ${i}: ${a[i]} vs ${b[i]}`;
}
