/**
 * Test helpers: a machine with NVMe controllers attached and the nvme driver bound, and block
 * I/O through the real block layer with buffers in RAM or in p2pmem.
 */
import type { KernelConfig, P2pdmaPolicy, Page } from '@p2pdma/kernel';
import { Kernel, PAGE_SIZE, pfnToPage, virtToPage, virtToPhys } from '@p2pdma/kernel';
import type { BlkStatus } from '@p2pdma/blk';
import { Bio, bioAddPage, REQ_OP_READ, REQ_OP_WRITE, reqFlags, submitBio } from '@p2pdma/blk';
import type { PciDev, PciSubsystem, TopologySpec } from '@p2pdma/pci-core';
import { enumerate, getBuiltin, kernelOptionsForTopology } from '@p2pdma/pci-core';
import { p2pdmaEnumerationHooks, pciAllocP2pmem } from '@p2pdma/p2pdma';
import type { NvmeController, NvmeControllerConfig, NvmeDev, NvmeNs, NvmePciDriver, NvmePciParams } from '../src/index';
import { attachNvmeControllers, nvmeInit } from '../src/index';

/** The seed-switch machine's NVMe with a CMB (Eideticom NoLoad) and without (P3700). */
export const NVME_CMB_BDF = '0000:04:00.0';
export const NVME_NOCMB_BDF = '0000:05:00.0';
/** The p2pmem card and the RNIC of the seed-switch machine. */
export const P2PMEM_CARD_BDF = '0000:06:00.0';
export const RNIC_BDF = '0000:03:00.0';

/** What `machine` builds. */
export interface Machine {
  k: Kernel;
  sys: PciSubsystem;
  ctrls: NvmeController[];
  drv: NvmePciDriver;
  /** Controller model by BDF. */
  ctrl(bdf: string): NvmeController;
  /** Driver device by BDF. */
  dev(bdf: string): NvmeDev;
  /** A function by BDF. */
  pdev(bdf: string): PciDev;
}

/** Options of `machine`. */
export interface MachineOptions {
  policy?: P2pdmaPolicy;
  spec?: TopologySpec;
  iommu?: boolean;
  cmdline?: string;
  config?: Partial<KernelConfig>;
  overrides?: Record<string, NvmeControllerConfig>;
  params?: NvmePciParams;
  /** Pass p2pdma's enumeration hooks (default true). */
  hooks?: boolean;
  /** Runs after the controllers are attached, before the driver binds. */
  beforeDriver?: (k: Kernel, sys: PciSubsystem) => void;
}

/**
 * Builds a machine (default: the seed-switch built-in), attaches controllers, binds the driver.
 * @param o options.
 * @returns the machine.
 */
export function machine(o: MachineOptions = {}): Machine {
  const spec = o.spec ?? getBuiltin('seed-switch')!;
  const k = new Kernel({ ...kernelOptionsForTopology(spec), policy: o.policy ?? 'upstream', config: o.config ?? {}, ...(o.iommu !== undefined ? { iommu: o.iommu } : {}), ...(o.cmdline !== undefined ? { cmdline: o.cmdline } : {}) });
  const sys = enumerate(k, spec, o.hooks === false ? {} : p2pdmaEnumerationHooks(k));
  if ('error' in sys) throw new Error(sys.error.message);
  const ctrls = attachNvmeControllers(sys, o.overrides ?? {});
  o.beforeDriver?.(k, sys);
  const drv = nvmeInit(k, o.params ?? {});
  if (typeof drv === 'number') throw new Error(`nvmeInit failed: ${drv}`);
  const pdev = (bdf: string): PciDev => {
    const d = sys.findByBdf(bdf);
    if (d === null) throw new Error(`no function ${bdf}`);
    return d;
  };
  return {
    k,
    sys,
    ctrls,
    drv,
    pdev,
    ctrl: (bdf) => {
      const c = ctrls.find((x) => x.pdev.name === bdf);
      if (c === undefined) throw new Error(`no controller ${bdf}`);
      return c;
    },
    dev: (bdf) => {
      const d = drv.devices().find((x) => x.pdev.name === bdf);
      if (d === undefined) throw new Error(`no nvme device ${bdf}`);
      return d;
    },
  };
}

/** A buffer the CPU can fill and the block layer can send: pages plus CPU access. */
export interface Buffer {
  readonly phys: number;
  readonly len: number;
  readonly pages: Page[];
  fill(data: Uint8Array): void;
  read(): Uint8Array;
}

/**
 * A page-aligned buffer in System RAM.
 * @param k the kernel.
 * @param len bytes (rounded up to pages).
 * @returns the buffer.
 */
export function ramBuffer(k: Kernel, len: number): Buffer {
  const n = Math.ceil(len / PAGE_SIZE);
  const phys = k.memory.allocPages(n)!;
  const pages = Array.from({ length: n }, (_, i) => pfnToPage(k, phys / PAGE_SIZE + i)!);
  return { phys, len, pages, fill: (d) => k.memory.ramWrite(phys, d), read: () => k.memory.ramRead(phys, len) };
}

/**
 * A page-aligned buffer of p2pmem allocated from a provider (CPU accesses go through the fabric).
 * @param k the kernel.
 * @param provider the provider.
 * @param len bytes.
 * @returns the buffer.
 */
export function p2pBuffer(k: Kernel, provider: PciDev, len: number): Buffer {
  const virt = pciAllocP2pmem(provider, len);
  if (virt === null) throw new Error(`no p2pmem on ${provider.name}`);
  const n = Math.ceil(len / PAGE_SIZE);
  const pages = Array.from({ length: n }, (_, i) => virtToPage(k, virt + i * PAGE_SIZE)!);
  const phys = virtToPhys(virt);
  return {
    phys,
    len,
    pages,
    fill: (d) => {
      if (k.memory.cpuWrite(phys, d) !== 0) throw new Error('cpuWrite failed');
    },
    read: () => {
      const r = k.memory.cpuRead(phys, len);
      if (typeof r === 'number') throw new Error('cpuRead failed');
      return r;
    },
  };
}

/**
 * Submits one bio of `len` bytes starting `offset` bytes into a buffer and runs the clock.
 * @param k the kernel.
 * @param ns the namespace.
 * @param write write (true) or read.
 * @param byteOffset disk byte offset (sector aligned).
 * @param buf the buffer.
 * @param len bytes.
 * @param opts `p2p` sets `REQ_PCI_P2PDMA`; `bufOffset` skips bytes of the buffer (sector aligned).
 * @returns the bio's status.
 */
export function bio(k: Kernel, ns: NvmeNs, write: boolean, byteOffset: number, buf: Buffer, len: number, opts: { p2p?: boolean; bufOffset?: number; run?: boolean } = {}): () => BlkStatus | null {
  let status: BlkStatus | null = null;
  const b = new Bio({
    disk: ns.disk,
    op: write ? REQ_OP_WRITE : REQ_OP_READ,
    sector: byteOffset / 512,
    flags: opts.p2p === true ? reqFlags(k).REQ_PCI_P2PDMA : 0,
    endIo: (x) => {
      status = x.status;
    },
  });
  let pos = opts.bufOffset ?? 0;
  let left = len;
  while (left > 0) {
    const page = buf.pages[Math.floor(pos / PAGE_SIZE)]!;
    const off = pos % PAGE_SIZE;
    const n = Math.min(PAGE_SIZE - off, left);
    if (bioAddPage(b, page, n, off) !== n) throw new Error('bio full');
    pos += n;
    left -= n;
  }
  submitBio(b);
  if (opts.run !== false) k.clock.runUntilIdle();
  return () => status;
}

/**
 * Bytes `0..len-1` of a deterministic pattern.
 * @param len length.
 * @param seed pattern seed.
 * @returns the bytes.
 */
export function pattern(len: number, seed: number): Uint8Array {
  const out = new Uint8Array(len);
  let x = (seed * 2654435761) >>> 0 || 1;
  for (let i = 0; i < len; i += 4) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    out[i] = x & 0xff;
    if (i + 1 < len) out[i + 1] = (x >>> 8) & 0xff;
    if (i + 2 < len) out[i + 2] = (x >>> 16) & 0xff;
    if (i + 3 < len) out[i + 3] = (x >>> 24) & 0xff;
  }
  return out;
}

/**
 * Compares bytes quickly (vitest's deep equality walks typed arrays element by element).
 * @param a bytes.
 * @param b bytes.
 * @returns `'equal'`, or where they first differ.
 */
export function diffBytes(a: Uint8Array, b: Uint8Array): string {
  if (a.length !== b.length) return `lengths ${a.length} and ${b.length}`;
  if (Buffer.compare(a, b) === 0) return 'equal';
  let i = 0;
  while (a[i] === b[i]) i++;
  return `first difference at byte ${i}: ${a[i]} vs ${b[i]}`;
}
