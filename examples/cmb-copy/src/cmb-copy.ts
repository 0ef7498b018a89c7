/**
 * The 2018 series' CMB use: copy between two NVMe namespaces through one drive's controller
 * memory buffer, without host memory. On the seed-switch machine the Intel P3700 (05:00.0, no
 * CMB) is the source and the Eideticom NoLoad (04:00.0, 64 MiB CMB in BAR 2, published as p2pmem
 * by the NVMe driver, seed patch 07) the destination. Per chunk: a READ on the P3700 whose data
 * pages are p2pmem in the NoLoad's CMB (the P3700 DMA-writes across the switch into the NoLoad's
 * BAR), then a WRITE on the NoLoad sourced from the same pages (the NoLoad reads its own CMB:
 * bytes inside the device, on no link). Both go through the block layer and the NVMe driver
 * (`nvme_map_data` maps P2P pages with `pci_p2pdma_map_sg` under v2, per page under 6.6).
 *
 * For comparison the same copy is staged through a bounce buffer in System RAM.
 *
 * @kernel — (an in-kernel copy user of drivers/nvme/host/pci.c with p2pmem, as patch 08 allows)
 */
import type { BlkStatus } from '@p2pdma/blk';
import { Bio, BLK_STS_OK, bioAddPage, blkStatusName, REQ_OP_READ, REQ_OP_WRITE, submitBio } from '@p2pdma/blk';
import type { DramSplit } from '@p2pdma/cli';
import { DramSplitTap, firstDifference, seededDataSet, ZERO_DRAM_SPLIT } from '@p2pdma/cli';
import type { P2pdmaPolicy, Page } from '@p2pdma/kernel';
import { Kernel, KernelBug, PAGE_SIZE, pfnToPage, virtToPage } from '@p2pdma/kernel';
import type { NvmeNs } from '@p2pdma/nvme-pci';
import { attachNvmeControllers, nvmeControllerOf, nvmeDevOf, nvmeInit } from '@p2pdma/nvme-pci';
import { p2pBioFlags } from '@p2pdma/nvmet';
import type { PciDev, PciSubsystem } from '@p2pdma/pci-core';
import { enumerate, getBuiltin, kernelOptionsForTopology, PCI_EXP_TYPE_ROOT_PORT, pciPcieType } from '@p2pdma/pci-core';
import { p2pdmaEnumerationHooks, pciAllocP2pmem, pciFreeP2pmem } from '@p2pdma/p2pdma';
import { CMB_REACH } from './cmb-reach';

/** The machine. */
export const CMB_COPY_TOPOLOGY = 'seed-switch';
/** The source drive: Intel P3700, no CMB. */
export const CMB_COPY_SOURCE = '0000:05:00.0';
/** The destination drive, whose CMB stages the copy: Eideticom NoLoad. */
export const CMB_COPY_DESTINATION = '0000:04:00.0';
/** Bytes per read/write pair (one staging buffer of this size). */
export const CMB_COPY_CHUNK_BYTES = 128 * 1024;
/** Default bytes copied: 4 MiB. */
export const DEFAULT_CMB_COPY_SIZE = 4 * 2 ** 20;
/** Largest copy (the namespaces are sized for it). */
export const MAX_CMB_COPY_SIZE = 256 * 2 ** 20;
/** Default seed of the data set. */
export const DEFAULT_CMB_COPY_SEED = 1;
/** Sector size of the block layer. */
const SECTOR_BYTES = 512;

/** Where the copy is staged. */
export type CmbCopyStaging = 'cmb' | 'system-memory';
/** The stagings, in report order. */
export const CMB_COPY_STAGINGS: readonly CmbCopyStaging[] = ['cmb', 'system-memory'];
/** The policies accepted. */
export const CMB_COPY_POLICIES: readonly P2pdmaPolicy[] = ['v2', 'upstream'];

/** What a test may do between a chunk's read and its write (see `afterRead`). */
export interface CmbCopyHookContext {
  /** The kernel of the run. */
  readonly kernel: Kernel;
  /** The staging of the run. */
  readonly staging: CmbCopyStaging;
  /** The chunk just read (0-based). */
  readonly chunk: number;
  /** CPU physical address of the staging buffer (a CMB address for `cmb`, System RAM otherwise). */
  readonly stagingPhys: number;
}

/** Options of {@link runCmbCopy}. */
export interface CmbCopyOptions {
  /** Bytes to copy, a positive multiple of {@link CMB_COPY_CHUNK_BYTES} (default {@link DEFAULT_CMB_COPY_SIZE}). */
  readonly size?: number;
  /** Seed of the data set and of the kernel RNG (default {@link DEFAULT_CMB_COPY_SEED}). */
  readonly seed?: number;
  /** The P2PDMA policy (default `upstream`). */
  readonly policy?: P2pdmaPolicy;
  /** Stagings to run (default both, {@link CMB_COPY_STAGINGS}). */
  readonly stagings?: readonly CmbCopyStaging[];
  /**
   * TEST ONLY: called after each chunk's read completed and before its write, e.g. to change a
   * staged byte and prove the verification catches it. The program never sets it.
   */
  readonly afterRead?: (ctx: CmbCopyHookContext) => void;
}

/** Bytes on one link, both directions. */
export interface CmbCopyLink {
  /** Link name (the downstream device's function-0 BDF). */
  readonly link: string;
  /** The downstream device, as the topology labels it (`''` when it has no label). */
  readonly device: string;
  /** Bytes towards the root. */
  readonly upBytes: number;
  /** Bytes away from the root. */
  readonly downBytes: number;
}

/** One copy run. */
export interface CmbCopyRun {
  /** Where the copy was staged. */
  readonly staging: CmbCopyStaging;
  /** The policy. */
  readonly policy: P2pdmaPolicy;
  /** Source drive BDF. */
  readonly source: string;
  /** Destination drive BDF. */
  readonly destination: string;
  /** Bytes copied. */
  readonly dataBytes: number;
  /** Read/write pairs. */
  readonly chunks: number;
  /** DMA bytes to and from System RAM for the data (the staging buffer). */
  readonly dramDataBytes: number;
  /** DMA bytes to and from System RAM for commands (SQEs, PRP lists, CQEs). */
  readonly dramCommandBytes: number;
  /** The split by direction. */
  readonly dram: DramSplit;
  /** Bytes on root-port links (both directions) plus bytes a root complex forwarded peer to peer. */
  readonly rootComplexBytes: number;
  /** Bytes the destination moved inside itself (its CMB to its media). */
  readonly destinationInternalBytes: number;
  /** Every link that carried bytes, in the fabric's order. */
  readonly links: CmbCopyLink[];
  /** Fabric transfers that failed. */
  readonly fabricErrors: number;
  /** Every command succeeded and the destination holds exactly the source's bytes. */
  readonly verified: boolean;
  /** First differing offset of the destination, `null` when none. */
  readonly firstDifference: number | null;
  /** Why not verified, or why the run is impossible; `null` when verified. */
  readonly error: string | null;
}

/** The result of {@link runCmbCopy}. */
export interface CmbCopyResult {
  /** The machine. */
  readonly topology: string;
  /** The policy. */
  readonly policy: P2pdmaPolicy;
  /** Bytes copied per run. */
  readonly dataBytes: number;
  /** Bytes per read/write pair. */
  readonly chunkBytes: number;
  /** The data set's seed. */
  readonly seed: number;
  /** Every run verified. */
  readonly verified: boolean;
  /** The runs, in the order asked. */
  readonly runs: CmbCopyRun[];
}

/**
 * Checks the options.
 * @param opts the options.
 * @returns size, seed and policy to use.
 * @throws RangeError naming the option and the reason.
 */
export function checkCmbCopyOptions(opts: CmbCopyOptions): { size: number; seed: number; policy: P2pdmaPolicy } {
  const size = opts.size ?? DEFAULT_CMB_COPY_SIZE;
  const seed = opts.seed ?? DEFAULT_CMB_COPY_SEED;
  const policy = opts.policy ?? 'upstream';
  if (!Number.isSafeInteger(size) || size <= 0 || size % CMB_COPY_CHUNK_BYTES !== 0) throw new RangeError(`size ${size}: must be a positive multiple of ${CMB_COPY_CHUNK_BYTES} bytes (128 KiB chunks)`);
  if (size > MAX_CMB_COPY_SIZE) throw new RangeError(`size ${size}: must be at most ${MAX_CMB_COPY_SIZE} bytes (256 MiB)`);
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`seed ${seed}: must be an integer from 0 to 4294967295`);
  if (!CMB_COPY_POLICIES.includes(policy)) throw new RangeError(`policy '${policy}': expected one of ${CMB_COPY_POLICIES.join(', ')}`);
  for (const s of opts.stagings ?? []) if (!CMB_COPY_STAGINGS.includes(s)) throw new RangeError(`staging '${s}': expected one of ${CMB_COPY_STAGINGS.join(', ')}`);
  return { size, seed, policy };
}

/**
 * Copies the data set from the source namespace to the destination namespace, once per staging,
 * each on a fresh machine, and reads the counters.
 * @param opts size, seed, policy, stagings, and the test-only hook.
 * @returns the runs (fresh objects the caller owns); a run that cannot be set up has its reason
 *   in `error`.
 * @throws RangeError for bad options.
 */
export function runCmbCopy(opts: CmbCopyOptions = {}): CmbCopyResult {
  const { size, seed, policy } = checkCmbCopyOptions(opts);
  const data = seededDataSet(size, seed);
  const runs = (opts.stagings ?? CMB_COPY_STAGINGS).map((s) => runOne(s, policy, data, seed, opts.afterRead));
  return { topology: CMB_COPY_TOPOLOGY, policy, dataBytes: size, chunkBytes: CMB_COPY_CHUNK_BYTES, seed, verified: runs.every((r) => r.verified), runs };
}

function notRun(staging: CmbCopyStaging, policy: P2pdmaPolicy, size: number, error: string): CmbCopyRun {
  return {
    staging,
    policy,
    source: CMB_COPY_SOURCE,
    destination: CMB_COPY_DESTINATION,
    dataBytes: size,
    chunks: 0,
    dramDataBytes: 0,
    dramCommandBytes: 0,
    dram: { ...ZERO_DRAM_SPLIT },
    rootComplexBytes: 0,
    destinationInternalBytes: 0,
    links: [],
    fabricErrors: 0,
    verified: false,
    firstDifference: null,
    error,
  };
}

/** The machine with both drives' namespaces and the NVMe driver bound. */
interface CopyMachine {
  readonly kernel: Kernel;
  readonly sys: PciSubsystem;
  readonly src: PciDev;
  readonly dst: PciDev;
  readonly srcNs: NvmeNs;
  readonly dstNs: NvmeNs;
}

function bootMachine(policy: P2pdmaPolicy, seed: number, nsBytes: number): CopyMachine | string {
  const spec = getBuiltin(CMB_COPY_TOPOLOGY);
  if (spec === null) return `topology ${CMB_COPY_TOPOLOGY}: no such built-in`;
  const kernel = new Kernel({ ...kernelOptionsForTopology(spec), policy, seed });
  const sys = enumerate(kernel, spec, p2pdmaEnumerationHooks(kernel));
  if ('error' in sys) return `topology: ${sys.error.message}`;
  const src = sys.findByBdf(CMB_COPY_SOURCE);
  const dst = sys.findByBdf(CMB_COPY_DESTINATION);
  if (src === null || dst === null) return `topology: no function ${src === null ? CMB_COPY_SOURCE : CMB_COPY_DESTINATION}`;
  attachNvmeControllers(sys, { [src.name]: { namespaces: [{ sizeBytes: nsBytes }] }, [dst.name]: { namespaces: [{ sizeBytes: nsBytes }] } });
  const drv = nvmeInit(kernel);
  if (typeof drv === 'number') return `nvme driver registration failed (${drv})`;
  const ns = (d: PciDev) => nvmeDevOf(d)?.ctrl.namespaces.find((n) => n.nsid === 1) ?? null;
  const srcNs = ns(src);
  const dstNs = ns(dst);
  if (srcNs === null || dstNs === null) return `the nvme driver did not bring up namespace 1 of ${srcNs === null ? src.name : dst.name} (see the kernel log)`;
  return { kernel, sys, src, dst, srcNs, dstNs };
}

/** Submits one bio over `pages` (whole pages) and runs the clock until it completes. */
function blockIo(m: CopyMachine, ns: NvmeNs, write: boolean, byteOffset: number, pages: readonly Page[], flags: number): BlkStatus | null {
  let status: BlkStatus | null = null;
  const bio = new Bio({
    disk: ns.disk,
    op: write ? REQ_OP_WRITE : REQ_OP_READ,
    sector: byteOffset / SECTOR_BYTES,
    flags,
    endIo: (b) => {
      status = b.status;
    },
  });
  for (const p of pages) if (bioAddPage(bio, p, PAGE_SIZE, 0) !== PAGE_SIZE) throw new KernelBug(`bio_add_page refused page ${p.pfn}`);
  submitBio(bio);
  m.kernel.clock.runUntilIdle();
  return status;
}

/** A staging buffer: its pages, CPU physical address, the bio flags its pages need, and how to free it. */
interface Staging {
  readonly pages: Page[];
  readonly phys: number;
  readonly flags: number;
  free(): void;
}

function stagingBuffer(m: CopyMachine, staging: CmbCopyStaging): Staging | string {
  const n = CMB_COPY_CHUNK_BYTES / PAGE_SIZE;
  if (staging === 'cmb') {
    const why = CMB_REACH[m.kernel.policy](m.dst, [m.src, m.dst]);
    if (why !== null) return `impossible under ${m.kernel.policy}: ${why}`;
    const virt = pciAllocP2pmem(m.dst, CMB_COPY_CHUNK_BYTES);
    if (virt === null) return `pci_alloc_p2pmem(${m.dst.name}, ${CMB_COPY_CHUNK_BYTES}) failed: no CMB p2pmem available`;
    const pages = Array.from({ length: n }, (_, i) => virtToPage(m.kernel, virt + i * PAGE_SIZE));
    if (pages.some((p) => p === null)) throw new KernelBug('p2pmem without page structs');
    const first = pages[0]!;
    return { pages: pages as Page[], phys: first.pfn * PAGE_SIZE, flags: p2pBioFlags(m.kernel), free: () => pciFreeP2pmem(m.dst, virt, CMB_COPY_CHUNK_BYTES) };
  }
  const phys = m.kernel.memory.allocPages(n);
  if (phys === null) return `alloc_pages(${n}) failed`;
  const pages = Array.from({ length: n }, (_, i) => pfnToPage(m.kernel, phys / PAGE_SIZE + i));
  if (pages.some((p) => p === null)) throw new KernelBug('System RAM without page structs');
  return { pages: pages as Page[], phys, flags: 0, free: () => m.kernel.memory.freePages(phys, n) };
}

function rootComplexBytes(sys: PciSubsystem, c: ReturnType<PciSubsystem['fabric']['counters']>): number {
  const rootPorts = new Set(sys.deviceList.filter((d) => pciPcieType(d) === PCI_EXP_TYPE_ROOT_PORT).map((d) => d.name));
  let rc = 0;
  for (const l of sys.fabric.linkInfo()) {
    const lc = c.links[l.name];
    if (rootPorts.has(l.upstream) && lc !== undefined) rc += lc.up + lc.down;
  }
  for (const r of Object.values(c.rootComplexes)) rc += r.peerForwarded;
  return rc;
}

function runOne(staging: CmbCopyStaging, policy: P2pdmaPolicy, data: Uint8Array, seed: number, hook: CmbCopyOptions['afterRead']): CmbCopyRun {
  const size = data.length;
  const m = bootMachine(policy, seed, Math.max(size, 2 ** 20));
  if (typeof m === 'string') return notRun(staging, policy, size, `impossible: ${m}`);
  // The source drive holds the data set before the copy (written to its media directly: setup, not counted).
  const srcMedia = nvmeControllerOf(m.src)?.media(1);
  const dstMedia = nvmeControllerOf(m.dst)?.media(1);
  if (srcMedia === null || srcMedia === undefined || dstMedia === null || dstMedia === undefined) return notRun(staging, policy, size, 'impossible: a drive has no namespace 1 media');
  srcMedia.poke(0, data);
  const buf = stagingBuffer(m, staging);
  if (typeof buf === 'string') return notRun(staging, policy, size, buf);

  const fabric = m.sys.fabric;
  fabric.resetCounters();
  const tap = new DramSplitTap(m.kernel, fabric);
  const chunks = size / CMB_COPY_CHUNK_BYTES;
  let error: string | null = null;
  try {
    for (let i = 0; i < chunks && error === null; i++) {
      const off = i * CMB_COPY_CHUNK_BYTES;
      const rs = blockIo(m, m.srcNs, false, off, buf.pages, buf.flags);
      if (rs !== BLK_STS_OK) {
        error = `read of chunk ${i} from ${m.src.name} failed: ${rs === null ? 'no completion' : blkStatusName(rs)}`;
        break;
      }
      hook?.({ kernel: m.kernel, staging, chunk: i, stagingPhys: buf.phys });
      const ws = blockIo(m, m.dstNs, true, off, buf.pages, buf.flags);
      if (ws !== BLK_STS_OK) error = `write of chunk ${i} to ${m.dst.name} failed: ${ws === null ? 'no completion' : blkStatusName(ws)}`;
    }
    const c = fabric.counters();
    const split = tap.split();
    const mismatch = tap.check(c.dram);
    if (mismatch !== null) throw new KernelBug(mismatch);
    const back = dstMedia.peek(0, size);
    const diff = error === null ? firstDifference(data, back) : null;
    if (diff !== null) error = `destination byte ${diff} is 0x${hex2(back[diff])}, the source's is 0x${hex2(data[diff])}`;
    if (error === null && c.errors > 0) error = `the fabric recorded ${c.errors} failed transfers`;
    const links: CmbCopyLink[] = [];
    for (const l of fabric.linkInfo()) {
      const lc = c.links[l.name];
      const device = m.sys.findByBdf(l.downstream)?.spec.label ?? '';
      if (lc !== undefined && lc.up + lc.down > 0) links.push({ link: l.name, device, upBytes: lc.up, downBytes: lc.down });
    }
    return {
      staging,
      policy,
      source: m.src.name,
      destination: m.dst.name,
      dataBytes: size,
      chunks,
      dramDataBytes: split.dataRead + split.dataWrite,
      dramCommandBytes: split.commandRead + split.commandWrite,
      dram: split,
      rootComplexBytes: rootComplexBytes(m.sys, c),
      destinationInternalBytes: c.devices[m.dst.name]?.internal ?? 0,
      links,
      fabricErrors: c.errors,
      verified: error === null,
      firstDifference: diff,
      error,
    };
  } finally {
    tap.detach();
    buf.free();
  }
}

function hex2(b: number | undefined): string {
  return (b ?? 0).toString(16).padStart(2, '0');
}
