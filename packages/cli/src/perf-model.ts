/**
 * The performance model (DESIGN section 5): link capacity after TLP overhead, and a workload's
 * throughput as its bottleneck. Each resource (a link direction, DRAM, a root complex's peer
 * forwarding, a NIC port, NVMe media, BAR memory) has a capacity in bytes per second; a workload
 * puts some bytes on it per I/O; the resource allowing the fewest I/Os per second wins and is named.
 * Measured fabric counters from a workload of N I/Os give the bytes per I/O.
 *
 * @kernel — (models the hardware below the kernel; link figures follow PCIe Base Spec 3.0-6.0)
 */
import type { FabricCounters, LinkInfo } from '@p2pdma/pci-core';
import { linkCapacityBytesPerSec } from '@p2pdma/pci-core';
import type { PerfResourceKind } from './perf-rates';
import { DEVICE_RATES, GB_PER_SEC, ROOT_COMPLEX_FORWARDING_RATES } from './perf-rates';

/**
 * Bytes of overhead per TLP on the wire, besides its payload: a 4-DW TLP header (16 B; a 3-DW
 * header for 32-bit addresses is 12 B), the data link layer's sequence number (2 B) and LCRC (4 B),
 * and the physical layer's framing (Gen1-2: STP + END symbols, 2 B; Gen3-5: the 4-B STP token that
 * carries the sequence number, so 4 + 16 + 4) — 24 B either way, without ECRC.
 * Source: PCIe Base Spec 3.0 sections 2.2.1 (header), 3.5.2 (sequence number, LCRC), 4.2.2.3.2
 * (STP token); the same 20-24 B figure as Xilinx WP350 "Understanding Performance of PCI Express
 * Systems". DLLPs (ACK, flow-control updates) and read requests are not counted.
 */
export const TLP_OVERHEAD_BYTES = 24;

/** PCIe's default Max Payload Size (every device supports it), used when a link's MPS is unknown. */
export const DEFAULT_MPS = 128;

/**
 * Fraction of a link's raw bandwidth left for payload when every TLP carries a full MPS.
 * @param mps Max Payload Size in bytes (128-4096).
 * @param overheadBytes per-TLP overhead (default {@link TLP_OVERHEAD_BYTES}).
 * @returns MPS / (MPS + overhead), in (0, 1].
 * @throws RangeError for a non-positive MPS or a negative overhead.
 */
export function tlpEfficiency(mps: number, overheadBytes: number = TLP_OVERHEAD_BYTES): number {
  if (!Number.isFinite(mps) || mps <= 0) throw new RangeError(`tlpEfficiency: mps ${mps} must be a positive number of bytes`);
  if (!Number.isFinite(overheadBytes) || overheadBytes < 0) throw new RangeError(`tlpEfficiency: overheadBytes ${overheadBytes} must be >= 0`);
  return mps / (mps + overheadBytes);
}

/**
 * Payload capacity of a link per direction: raw capacity (pci-core's `linkCapacityBytesPerSec`)
 * times {@link tlpEfficiency}. Gen6 uses the same TLP formula (its FLIT overhead is not modelled).
 * @param gen generation 1-6.
 * @param width lanes.
 * @param mps Max Payload Size in bytes.
 * @returns bytes per second, or `null` for an unknown generation or a bad width.
 * @throws RangeError for a non-positive MPS.
 */
export function effectiveLinkBytesPerSec(gen: number, width: number, mps: number): number | null {
  const raw = linkCapacityBytesPerSec(gen, width);
  return raw === null ? null : raw * tlpEfficiency(mps);
}

/** One resource a workload uses. */
export interface PerfResource {
  /** Unique name (`link 0000:03:00.0 up`, `dram`, `rc pci0000:00`, `nic 0000:03:00.0`). */
  readonly name: string;
  /** Its kind. */
  readonly kind: PerfResourceKind;
  /** Capacity in bytes per second (>= 0; 0 means the resource cannot carry bytes at all). */
  readonly capacityBytesPerSec: number;
  /** Bytes the workload puts on it per I/O (>= 0; 0: untouched, ignored). */
  readonly bytesPerIo: number;
}

/** One resource in a bottleneck result. */
export interface PerfResourceResult extends PerfResource {
  /** I/Os per second it allows (capacity / bytesPerIo), `null` when it carries no bytes. */
  readonly maxIoPerSec: number | null;
  /** Fraction of its capacity used at the workload's throughput (0 for untouched; 1 at the bottleneck). */
  readonly utilization: number;
}

/** A workload's throughput and what limits it. */
export interface BottleneckResult {
  /** I/Os per second. */
  readonly ioPerSec: number;
  /** Payload throughput: ioPerSec × ioBytes, bytes per second. */
  readonly throughputBytesPerSec: number;
  /** The same in GB/s (1e9 B/s). */
  readonly throughputGBps: number;
  /** Name of the limiting resource (the first in input order on a tie). */
  readonly bottleneck: string;
  /** Every input resource, in input order. */
  readonly perResource: PerfResourceResult[];
}

/**
 * The bottleneck of a workload: each resource carrying bytes allows capacity ÷ bytesPerIo I/Os
 * per second; the smallest wins, and throughput = that rate × ioBytes.
 * @param resources the resources (the caller keeps them; names must be unique).
 * @param ioBytes payload bytes per I/O (> 0).
 * @returns the throughput, the bottleneck's name and the per-resource figures (a fresh object).
 * @throws Error when no resources are given or none carries bytes; RangeError for a duplicate
 *   name, a negative or non-finite capacity or bytesPerIo, or a non-positive ioBytes.
 */
export function bottleneck(resources: readonly PerfResource[], ioBytes: number): BottleneckResult {
  if (resources.length === 0) throw new Error('bottleneck: no resources given; the workload must use at least one resource');
  if (!Number.isFinite(ioBytes) || ioBytes <= 0) throw new RangeError(`bottleneck: ioBytes ${ioBytes} must be a positive number of bytes`);
  const seen = new Set<string>();
  let best: PerfResource | null = null;
  let bestRate = Number.POSITIVE_INFINITY;
  for (const r of resources) {
    if (seen.has(r.name)) throw new RangeError(`bottleneck: resource name '${r.name}' is given twice`);
    seen.add(r.name);
    if (!Number.isFinite(r.capacityBytesPerSec) || r.capacityBytesPerSec < 0) {
      throw new RangeError(`bottleneck: resource '${r.name}' capacity ${r.capacityBytesPerSec} must be a finite number >= 0`);
    }
    if (!Number.isFinite(r.bytesPerIo) || r.bytesPerIo < 0) throw new RangeError(`bottleneck: resource '${r.name}' bytesPerIo ${r.bytesPerIo} must be a finite number >= 0`);
    if (r.bytesPerIo === 0) continue;
    const rate = r.capacityBytesPerSec / r.bytesPerIo;
    if (rate < bestRate) {
      bestRate = rate;
      best = r;
    }
  }
  if (best === null) throw new Error(`bottleneck: none of the ${resources.length} resources carries bytes (every bytesPerIo is 0)`);
  const ioPerSec = bestRate;
  const perResource = resources.map((r): PerfResourceResult => {
    const used = ioPerSec * r.bytesPerIo;
    return {
      name: r.name,
      kind: r.kind,
      capacityBytesPerSec: r.capacityBytesPerSec,
      bytesPerIo: r.bytesPerIo,
      maxIoPerSec: r.bytesPerIo === 0 ? null : r.capacityBytesPerSec / r.bytesPerIo,
      utilization: r === best ? 1 : r.bytesPerIo === 0 ? 0 : r.capacityBytesPerSec === 0 ? 1 : used / r.capacityBytesPerSec,
    };
  });
  const throughputBytesPerSec = ioPerSec * ioBytes;
  return { ioPerSec, throughputBytesPerSec, throughputGBps: throughputBytesPerSec / GB_PER_SEC, bottleneck: best.name, perResource };
}

/** Capacities for the fabric resources {@link resourcesFromCounters} builds. */
export interface FabricRates {
  /** DRAM bandwidth shared by DMA reads and writes, bytes per second. */
  readonly dramBytesPerSec: number;
  /** Peer-forwarding rate by host bridge name (`pci0000:00`); see {@link rootComplexRates}. */
  readonly rootComplexBytesPerSec: Readonly<Record<string, number>>;
  /** BAR memory rate by function BDF; devices listed here whose BARs moved bytes become resources. */
  readonly barMemoryBytesPerSec?: Readonly<Record<string, number>>;
}

/**
 * Each host bridge's peer-forwarding rate from its profile ({@link ROOT_COMPLEX_FORWARDING_RATES}).
 * @param hostBridges host bridges (pci-core's `PciHostBridge` fits), by name and profile.
 * @returns rates by host bridge name (a fresh object the caller owns).
 */
export function rootComplexRates(hostBridges: readonly { readonly name: string; readonly peerForwarding: keyof typeof ROOT_COMPLEX_FORWARDING_RATES }[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const hb of hostBridges) out[hb.name] = ROOT_COMPLEX_FORWARDING_RATES[hb.peerForwarding].bytesPerSec;
  return out;
}

/**
 * Default fabric rates for the modelled Intel Xeon E5 v4 machines: {@link DEVICE_RATES}' socket
 * DRAM figure, the host bridges' profile rates, and the p2pmem/CMB BAR figures for the given BDFs.
 * @param hostBridges the machine's host bridges.
 * @param barMemory BAR memory rate by function BDF (default none).
 * @returns the rates (a fresh object).
 */
export function defaultFabricRates(
  hostBridges: Parameters<typeof rootComplexRates>[0],
  barMemory: Readonly<Record<string, number>> = {},
): FabricRates {
  return { dramBytesPerSec: DEVICE_RATES['xeon-e5-v4-dram'].bytesPerSec, rootComplexBytesPerSec: rootComplexRates(hostBridges), barMemoryBytesPerSec: { ...barMemory } };
}

/**
 * Turn a workload's measured fabric counters into per-I/O bytes per resource. Only resources that
 * carried bytes are returned (untouched links, an idle DRAM or root complex are left out):
 * - each link direction, `link <name> up|down`, capacity {@link effectiveLinkBytesPerSec} from
 *   the link's gen, width and MPS ({@link DEFAULT_MPS} when the MPS is unknown);
 * - `dram`: DMA reads plus writes against one bandwidth figure, since a DDR channel's data bus
 *   carries either direction at a time (read/write turnaround costs are not modelled);
 * - `rc <host bridge>`: bytes the root complex forwarded peer-to-peer against its forwarding rate
 *   (pci-core counts a cross-host-bridge transfer on both root complexes, so both appear);
 * - `bar <bdf>`: bytes read from and written to the function's BARs, for functions listed in
 *   `rates.barMemoryBytesPerSec`.
 * Device resources the counters do not see (NIC port, NVMe media) the caller appends, e.g. with
 * {@link deviceResource}.
 * @param counters a counter snapshot (`fabric.counters()`), after resetting before the workload.
 * @param links the fabric's links (`fabric.linkInfo()`).
 * @param ios how many I/Os the workload did (> 0).
 * @param rates the capacities.
 * @returns the resources, links first in `links` order (a fresh array the caller owns).
 * @throws RangeError for a non-positive `ios`; Error for a counter naming a link `links` lacks, a
 *   touched link whose gen or width is unknown, or a root complex with traffic but no rate.
 */
export function resourcesFromCounters(counters: FabricCounters, links: readonly LinkInfo[], ios: number, rates: FabricRates): PerfResource[] {
  if (!Number.isFinite(ios) || ios <= 0) throw new RangeError(`resourcesFromCounters: ios ${ios} must be a positive number of I/Os`);
  const byName = new Map(links.map((l) => [l.name, l]));
  for (const name of Object.keys(counters.links)) {
    if (!byName.has(name)) throw new Error(`resourcesFromCounters: counters name link ${name}, which the link list does not hold`);
  }
  const out: PerfResource[] = [];
  for (const l of links) {
    const c = counters.links[l.name];
    if (c === undefined || (c.up === 0 && c.down === 0)) continue;
    const cap = l.gen === null || l.width === null ? null : effectiveLinkBytesPerSec(l.gen, l.width, l.mps ?? DEFAULT_MPS);
    if (cap === null) throw new Error(`resourcesFromCounters: link ${l.name} carried bytes but its capacity is unknown (gen ${l.gen}, width ${l.width})`);
    for (const [dir, bytes] of [
      ['up', c.up],
      ['down', c.down],
    ] as const) {
      if (bytes > 0) out.push({ name: `link ${l.name} ${dir}`, kind: 'link', capacityBytesPerSec: cap, bytesPerIo: bytes / ios });
    }
  }
  const dram = counters.dram.read + counters.dram.write;
  if (dram > 0) out.push({ name: 'dram', kind: 'dram', capacityBytesPerSec: rates.dramBytesPerSec, bytesPerIo: dram / ios });
  for (const [hb, rc] of Object.entries(counters.rootComplexes)) {
    if (rc.peerForwarded === 0) continue;
    const cap = Object.hasOwn(rates.rootComplexBytesPerSec, hb) ? rates.rootComplexBytesPerSec[hb] : undefined;
    if (cap === undefined) throw new Error(`resourcesFromCounters: root complex ${hb} forwarded ${rc.peerForwarded} bytes but rates.rootComplexBytesPerSec has no entry for it`);
    out.push({ name: `rc ${hb}`, kind: 'root-complex', capacityBytesPerSec: cap, bytesPerIo: rc.peerForwarded / ios });
  }
  const bars = rates.barMemoryBytesPerSec ?? {};
  for (const [bdf, d] of Object.entries(counters.devices)) {
    const cap = Object.hasOwn(bars, bdf) ? bars[bdf] : undefined;
    const bytes = d.barRead + d.barWrite;
    if (cap !== undefined && bytes > 0) out.push({ name: `bar ${bdf}`, kind: 'bar-memory', capacityBytesPerSec: cap, bytesPerIo: bytes / ios });
  }
  return out;
}

/**
 * A device resource the fabric counters do not see (a NIC port, NVMe media), from a rate entry.
 * @param name unique resource name (`nic 0000:03:00.0`).
 * @param rate the rate (e.g. `DEVICE_RATES['connectx5-100g-port']`).
 * @param bytesPerIo bytes per I/O through it.
 * @returns the resource (a fresh object).
 */
export function deviceResource(name: string, rate: { readonly kind: PerfResourceKind; readonly bytesPerSec: number }, bytesPerIo: number): PerfResource {
  return { name, kind: rate.kind, capacityBytesPerSec: rate.bytesPerSec, bytesPerIo };
}
