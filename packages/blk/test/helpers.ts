/**
 * Test helpers for the blk package: kernels, RAM and P2P BAR pages, data bios, and a recording
 * blk-mq driver whose behaviour each test scripts.
 */
import type { KernelConfig, Page } from '@p2pdma/kernel';
import {
  DevPagemap,
  Device,
  deviceAdd,
  devmMemremapPages,
  isErr,
  Kernel,
  MEMORY_DEVICE_PCI_P2PDMA,
  PAGE_SIZE,
  pfnToPage,
} from '@p2pdma/kernel';
import type { BlkMqHwCtx, BlkMqOps, BlkStatus, Request, RequestQueue, ReqOp } from '../src/index';
import {
  BLK_STS_OK,
  Bio,
  bioAddPage,
  BlkMqTagSet,
  blkMqAllocTagSet,
  blkMqEndRequest,
  blkMqInitQueue,
  blkMqStartRequest,
  blkRqBytes,
  Disk,
  reqOp,
  setCapacity,
} from '../src/index';

/** A kernel with optional Kconfig overrides. */
export function newKernel(config: Partial<KernelConfig> = {}): Kernel {
  return new Kernel({ config, seed: 7 });
}

/** Allocates `n` contiguous System RAM pages; returns their `Page` objects. */
export function ramPages(k: Kernel, n: number): Page[] {
  const phys = k.memory.allocPages(n);
  if (phys === null) throw new Error('ramPages: out of memory');
  return Array.from({ length: n }, (_, i) => pfnToPage(k, phys / PAGE_SIZE + i)!);
}

/** Fills a page range with bytes through CPU stores. */
export function fillPage(k: Kernel, page: Page, offset: number, data: Uint8Array): void {
  const r = k.memory.cpuWrite(page.pfn * PAGE_SIZE + offset, data);
  if (r !== 0) throw new Error(`fillPage: ${r}`);
}

/** Reads a page range through CPU loads. */
export function readPage(k: Kernel, page: Page, offset: number, len: number): Uint8Array {
  const r = k.memory.cpuRead(page.pfn * PAGE_SIZE + offset, len);
  if (isErr(r)) throw new Error(`readPage: ${r}`);
  return r;
}

/** A PCI P2PDMA-style BAR: MMIO backed by `bytes`, with ZONE_DEVICE pages of type PCI_P2PDMA. */
export interface P2pBar {
  readonly base: number;
  readonly bytes: Uint8Array;
  readonly provider: Device;
  page(i: number): Page;
}

/** Maps a 2 MiB P2P BAR at `base` (in the x86 PCI hole by default). */
export function makeP2pBar(k: Kernel, base = 0xe000_0000, size = 2 ** 21, name = '0000:03:00.0'): P2pBar {
  const bytes = new Uint8Array(size);
  k.memory.registerMmio(
    base,
    size,
    {
      read: (off, out) => out.set(bytes.subarray(off, off + out.length)),
      write: (off, data) => bytes.set(data, off),
    },
    `${name} BAR 4`,
  );
  const provider = new Device(k, name);
  if (deviceAdd(provider) !== 0) throw new Error('makeP2pBar: deviceAdd');
  const pgmap = new DevPagemap({ type: MEMORY_DEVICE_PCI_P2PDMA, range: { start: base, end: base + size - 1 } });
  const v = devmMemremapPages(provider, pgmap);
  if (isErr(v)) throw new Error(`makeP2pBar: devmMemremapPages ${v}`);
  return { base, bytes, provider, page: (i) => pfnToPage(k, base / PAGE_SIZE + i)! };
}

/** Builds a bio over page ranges. */
export function dataBio(
  disk: Disk,
  op: ReqOp,
  sector: number,
  ranges: readonly { page: Page; offset?: number; len?: number }[],
  flags = 0,
  onEnd?: (b: Bio) => void,
): Bio {
  const bio = new Bio({ disk, op, flags, sector, endIo: onEnd ?? null });
  for (const r of ranges) {
    const len = r.len ?? PAGE_SIZE - (r.offset ?? 0);
    if (bioAddPage(bio, r.page, len, r.offset ?? 0) !== len) throw new Error('dataBio: bioAddPage refused');
  }
  return bio;
}

/** What the recording driver saw. */
export interface Seen {
  id: number;
  op: number;
  sector: number;
  bytes: number;
  nrBios: number;
  cmdFlags: number;
  tag: number;
  hwq: number;
  last: boolean;
}

/** A scripted blk-mq driver: records every `queueRq` and answers per `respond`. */
export interface Recorder {
  readonly set: BlkMqTagSet;
  readonly q: RequestQueue;
  readonly disk: Disk;
  readonly seen: Seen[];
  /** Requests taken but not yet ended (for `completion: 'manual'`). */
  readonly held: Request[];
  /** Decides each dispatch: a status to return, or 'take' (start + end per completion mode). */
  respond: (rq: Request, hctx: BlkMqHwCtx) => BlkStatus | 'take';
}

/** Creates a queue with a recording driver. `completion: 'sync'` ends taken requests at once. */
export function recorder(
  k: Kernel,
  opts: { depth?: number; nrHwQueues?: number; completion?: 'sync' | 'manual'; capacitySectors?: number; ops?: Partial<BlkMqOps>; flags?: number } = {},
): Recorder {
  const seen: Seen[] = [];
  const held: Request[] = [];
  const rec = {} as { -readonly [K in keyof Recorder]: Recorder[K] };
  rec.respond = () => 'take';
  const set = new BlkMqTagSet(k, {
    ops: {
      queueRq: (hctx, bd) => {
        const rq = bd.rq;
        seen.push({
          id: rq.id,
          op: reqOp(rq),
          sector: rq.sector,
          bytes: blkRqBytes(rq),
          nrBios: rq.bios.length,
          cmdFlags: rq.cmdFlags,
          tag: rq.tag,
          hwq: hctx.queueNum,
          last: bd.last,
        });
        const r = rec.respond(rq, hctx);
        if (r !== 'take') return r;
        blkMqStartRequest(rq);
        if ((opts.completion ?? 'sync') === 'sync') blkMqEndRequest(rq, BLK_STS_OK);
        else held.push(rq);
        return BLK_STS_OK;
      },
      ...opts.ops,
    },
    nrHwQueues: opts.nrHwQueues ?? 1,
    queueDepth: opts.depth ?? 32,
    ...(opts.flags === undefined ? {} : { flags: opts.flags }),
  });
  if (blkMqAllocTagSet(set) !== 0) throw new Error('recorder: tag set');
  const q = blkMqInitQueue(set);
  if (isErr(q)) throw new Error(`recorder: init queue ${q}`);
  const disk = new Disk('rec0', q);
  setCapacity(disk, opts.capacitySectors ?? 1 << 20);
  Object.assign(rec, { set, q, disk, seen, held });
  return rec as Recorder;
}

/** Byte-exact comparison of two arrays (fast; vitest's deep equality is slow on large arrays). */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}
