/**
 * The seed series' headline, end to end: a remote host writes a data set through the NVMe-oF
 * target of the seed-switch machine and reads it back, for each buffer placement (System RAM, the
 * p2pmem card, the exported SSD's CMB) under each P2PDMA policy (`v2` = 4.16 + the seed series,
 * `upstream` = Linux 6.6). Every figure comes from the machine's fabric counters; DRAM bytes are
 * split into data and command bytes by {@link DramSplitTap}; the performance model of
 * `@p2pdma/cli` turns the counters into a throughput and names the bottleneck; every byte read
 * back is compared with what was written.
 *
 * @kernel — (drives drivers/nvme/target through @p2pdma/nvmet's testbed, as `nvme connect` +
 *   `dd` would on a real remote host)
 */
import type { DramSplit, PerfResource, ScenarioPlacementName } from '@p2pdma/cli';
import {
  bottleneck,
  DEVICE_RATES,
  DramSplitTap,
  defaultFabricRates,
  deviceResource,
  dramSplitDiff,
  firstDifference,
  resourcesFromCounters,
  SCENARIO_PLACEMENT_NAMES,
  seededDataSet,
} from '@p2pdma/cli';
import type { P2pdmaPolicy } from '@p2pdma/kernel';
import { KernelBug } from '@p2pdma/kernel';
import type { NvmetPlacement, NvmetTestbed } from '@p2pdma/nvmet';
import { buildNvmetTestbed, NVMET_PLACEMENTS } from '@p2pdma/nvmet';
import type { FabricCounters } from '@p2pdma/pci-core';
import { builtinNames, PCI_EXP_TYPE_ROOT_PORT, pciPcieType } from '@p2pdma/pci-core';
import { BAR_RATES, MEDIA_RATES, NIC_RATES, rateOf } from './device-rates';

/** The default machine: the seed's target (RNIC, two NVMe drives and a p2pmem card behind one switch). */
export const OFFLOAD_TOPOLOGY = 'seed-switch';
/** The policies, in table order. */
export const OFFLOAD_POLICIES: readonly P2pdmaPolicy[] = ['v2', 'upstream'];
/** Default data set: 4 MiB. */
export const DEFAULT_OFFLOAD_SIZE = 4 * 2 ** 20;
/**
 * Bytes per I/O: 64 KiB. Sizes are whole I/Os, so every write carries a keyed SGL and its data
 * goes through the placement's buffers: a write small enough for the capsule (nvmet-rdma's
 * inline data, at most 16 KiB) would land in the queue's receive buffer in System RAM whatever
 * the placement, as in the kernel.
 */
export const OFFLOAD_IO_BYTES = 64 * 1024;
/** Default seed of the data set and of the kernels' RNGs. */
export const DEFAULT_OFFLOAD_SEED = 1;
/** Logical block size of the exported namespace. */
export const OFFLOAD_LBA_BYTES = 512;
/** Largest data set: the remote host's memory and the namespace are sized for it. */
export const MAX_OFFLOAD_SIZE = 256 * 2 ** 20;

/** What a test may do between the write phase and the read-back (see `afterWritePhase`). */
export interface OffloadHookContext {
  /** The run's machine, target and initiator. */
  readonly testbed: NvmetTestbed;
  /** The policy of the run. */
  readonly policy: P2pdmaPolicy;
  /** The placement of the run. */
  readonly placement: NvmetPlacement;
  /** The bytes written (read-only by contract: the comparison uses them). */
  readonly data: Uint8Array;
}

/** Options of {@link runOffloadExample}. */
export interface OffloadOptions {
  /** Bytes written and read back per run, a positive multiple of {@link OFFLOAD_IO_BYTES} (default {@link DEFAULT_OFFLOAD_SIZE}). */
  readonly size?: number;
  /** Seed of the data set and the kernel RNG (default {@link DEFAULT_OFFLOAD_SEED}). */
  readonly seed?: number;
  /** Policies to run (default both, {@link OFFLOAD_POLICIES}). */
  readonly policies?: readonly P2pdmaPolicy[];
  /** Placements to run (default all three, in nvmet's order). */
  readonly placements?: readonly NvmetPlacement[];
  /**
   * A built-in topology with the same four devices (default {@link OFFLOAD_TOPOLOGY}); e.g.
   * `root-ports`, where no peer path is allowed, shows how each policy refuses or falls back.
   */
  readonly topology?: string;
  /**
   * TEST ONLY: called once per run after the last write completed and before the first read,
   * e.g. to flip a byte of the drive's media and prove the verification catches it. The program
   * never sets it.
   */
  readonly afterWritePhase?: (ctx: OffloadHookContext) => void;
}

/** DRAM and root-complex bytes of one phase. */
export interface OffloadPhaseBytes {
  /** DMA bytes to and from System RAM for the data (I/O data buffers). */
  readonly dramDataBytes: number;
  /** DMA bytes to and from System RAM for commands and completions (capsules, SQEs, PRP lists, CQEs, responses). */
  readonly dramCommandBytes: number;
  /** The split by direction. */
  readonly dram: DramSplit;
  /** Bytes on root-port links (both directions) plus bytes a root complex forwarded peer to peer. */
  readonly rootComplexBytes: number;
}

/** The link that carried the most bytes. */
export interface OffloadBusiestLink {
  /** Link name (the downstream device's function-0 BDF). */
  readonly link: string;
  /** Bytes towards the root. */
  readonly upBytes: number;
  /** Bytes away from the root. */
  readonly downBytes: number;
}

/** One row of the comparison table: one placement under one policy. */
export interface OffloadRow {
  /** The placement, as `p2pdma simulate` names it. */
  readonly placement: ScenarioPlacementName;
  /** The policy. */
  readonly policy: P2pdmaPolicy;
  /** The exported drive's BDF (`''` when the machine could not be built). */
  readonly drive: string;
  /** The provider the placement asks for (`null` for System RAM). */
  readonly provider: string | null;
  /** Where the target's I/O buffers were, from its log and counters (`System RAM`, `p2pmem on 0000:06:00.0`). */
  readonly buffers: string;
  /** Bytes written, and read back. */
  readonly dataBytes: number;
  /** Write commands (and read commands). */
  readonly ios: number;
  /** Data buffers the target took from p2pmem during the workload (`ctrl.stats`, both phases). */
  readonly p2pBuffers: number;
  /** Data buffers the target took from System RAM during the workload. */
  readonly systemBuffers: number;
  /** The write phase (remote host → target → SSD). */
  readonly write: OffloadPhaseBytes;
  /** The read-back phase (SSD → target → remote host). */
  readonly read: OffloadPhaseBytes;
  /** DRAM data bytes of both phases. */
  readonly dramDataBytes: number;
  /** DRAM command bytes of both phases. */
  readonly dramCommandBytes: number;
  /** Root-complex bytes of both phases. */
  readonly rootComplexBytes: number;
  /** The busiest link over both phases (`null` when nothing moved). */
  readonly busiestLink: OffloadBusiestLink | null;
  /** Modelled payload throughput of the write + read workload, GB/s (1e9 B/s); 0 when not run. */
  readonly throughputGBps: number;
  /** The resource that limits it (`media 0000:05:00.0 write`, `bar 0000:04:00.0`); `''` when not run. */
  readonly bottleneck: string;
  /** Fabric transfers that failed. */
  readonly fabricErrors: number;
  /** Every command succeeded and every byte read back equals the byte written. */
  readonly verified: boolean;
  /** The first offset (in the data set) whose byte differs, `null` when none does. */
  readonly firstDifference: number | null;
  /** Why not verified, or why the run is impossible; `null` when verified. */
  readonly error: string | null;
}

/** The result of {@link runOffloadExample}. */
export interface OffloadResult {
  /** The machine. */
  readonly topology: string;
  /** Bytes per run. */
  readonly dataBytes: number;
  /** Bytes per I/O. */
  readonly ioBytes: number;
  /** The data set's seed. */
  readonly seed: number;
  /** Every row verified. */
  readonly verified: boolean;
  /** Rows: per policy, per placement. */
  readonly rows: OffloadRow[];
}

const ZERO_PHASE: OffloadPhaseBytes = { dramDataBytes: 0, dramCommandBytes: 0, dram: { dataRead: 0, dataWrite: 0, commandRead: 0, commandWrite: 0 }, rootComplexBytes: 0 };

/**
 * Checks the options; throws for bad ones.
 * @param opts the options.
 * @returns the size and seed to use.
 * @throws RangeError naming the option and the reason.
 */
export function checkOffloadOptions(opts: OffloadOptions): { size: number; seed: number; topology: string } {
  const size = opts.size ?? DEFAULT_OFFLOAD_SIZE;
  const topology = opts.topology ?? OFFLOAD_TOPOLOGY;
  if (!builtinNames().includes(topology)) throw new RangeError(`topology '${topology}': no such built-in (known: ${builtinNames().join(', ')})`);
  const seed = opts.seed ?? DEFAULT_OFFLOAD_SEED;
  if (!Number.isSafeInteger(size) || size <= 0 || size % OFFLOAD_IO_BYTES !== 0) throw new RangeError(`size ${size}: must be a positive multiple of ${OFFLOAD_IO_BYTES} bytes (64 KiB I/Os)`);
  if (size > MAX_OFFLOAD_SIZE) throw new RangeError(`size ${size}: must be at most ${MAX_OFFLOAD_SIZE} bytes (256 MiB)`);
  if (!Number.isSafeInteger(seed) || seed < 0 || seed > 0xffffffff) throw new RangeError(`seed ${seed}: must be an integer from 0 to 4294967295`);
  for (const p of opts.policies ?? []) if (!OFFLOAD_POLICIES.includes(p)) throw new RangeError(`policy '${p}': expected one of ${OFFLOAD_POLICIES.join(', ')}`);
  for (const p of opts.placements ?? []) if (!NVMET_PLACEMENTS.includes(p)) throw new RangeError(`placement '${p}': expected one of ${NVMET_PLACEMENTS.join(', ')}`);
  return { size, seed, topology };
}

/**
 * Runs the example: for each policy and placement a fresh machine, the data set written in
 * {@link OFFLOAD_IO_BYTES} I/Os and read back, counters read after each phase.
 * @param opts size, seed, which runs, and the test-only hook.
 * @returns the rows (fresh objects the caller owns); a run that cannot be set up is a row with
 *   its reason in `error`, never left out.
 * @throws RangeError for bad options (see {@link checkOffloadOptions}).
 */
export function runOffloadExample(opts: OffloadOptions = {}): OffloadResult {
  const { size, seed, topology } = checkOffloadOptions(opts);
  const data = seededDataSet(size, seed);
  const rows: OffloadRow[] = [];
  for (const policy of opts.policies ?? OFFLOAD_POLICIES) {
    for (const placement of opts.placements ?? NVMET_PLACEMENTS) rows.push(runOne(topology, policy, placement, data, seed, opts.afterWritePhase));
  }
  return { topology, dataBytes: size, ioBytes: OFFLOAD_IO_BYTES, seed, verified: rows.every((r) => r.verified), rows };
}

function notRun(policy: P2pdmaPolicy, placement: NvmetPlacement, dataBytes: number, error: string, t: NvmetTestbed | null): OffloadRow {
  return {
    placement: SCENARIO_PLACEMENT_NAMES[placement],
    policy,
    drive: t?.drive.name ?? '',
    provider: t?.provider?.name ?? null,
    buffers: 'none (not run)',
    dataBytes,
    ios: 0,
    p2pBuffers: 0,
    systemBuffers: 0,
    write: ZERO_PHASE,
    read: ZERO_PHASE,
    dramDataBytes: 0,
    dramCommandBytes: 0,
    rootComplexBytes: 0,
    busiestLink: null,
    throughputGBps: 0,
    bottleneck: '',
    fabricErrors: 0,
    verified: false,
    firstDifference: null,
    error,
  };
}

/** Bytes through the root complex in a counter snapshot (see {@link OffloadPhaseBytes.rootComplexBytes}). */
function rootComplexBytes(t: NvmetTestbed, c: FabricCounters): number {
  const rootPorts = new Set(t.sys.deviceList.filter((d) => pciPcieType(d) === PCI_EXP_TYPE_ROOT_PORT).map((d) => d.name));
  let rc = 0;
  for (const l of t.sys.fabric.linkInfo()) {
    const lc = c.links[l.name];
    if (rootPorts.has(l.upstream) && lc !== undefined) rc += lc.up + lc.down;
  }
  for (const r of Object.values(c.rootComplexes)) rc += r.peerForwarded;
  return rc;
}

/** `later − earlier` for the counters this example reads (links, root complexes, DRAM, devices, errors). */
function counterDiff(later: FabricCounters, earlier: FabricCounters): FabricCounters {
  const links: FabricCounters['links'] = {};
  for (const [k, v] of Object.entries(later.links)) {
    const e = earlier.links[k];
    links[k] = { up: v.up - (e?.up ?? 0), down: v.down - (e?.down ?? 0) };
  }
  const rootComplexes: FabricCounters['rootComplexes'] = {};
  for (const [k, v] of Object.entries(later.rootComplexes)) {
    const e = earlier.rootComplexes[k];
    rootComplexes[k] = {
      in: v.in - (e?.in ?? 0),
      out: v.out - (e?.out ?? 0),
      peerForwarded: v.peerForwarded - (e?.peerForwarded ?? 0),
      cpuMmioRead: v.cpuMmioRead - (e?.cpuMmioRead ?? 0),
      cpuMmioWrite: v.cpuMmioWrite - (e?.cpuMmioWrite ?? 0),
    };
  }
  const devices: FabricCounters['devices'] = {};
  for (const [k, v] of Object.entries(later.devices)) {
    const e = earlier.devices[k];
    devices[k] = { barRead: v.barRead - (e?.barRead ?? 0), barWrite: v.barWrite - (e?.barWrite ?? 0), internal: v.internal - (e?.internal ?? 0) };
  }
  return { links, rootComplexes, dram: { read: later.dram.read - earlier.dram.read, write: later.dram.write - earlier.dram.write }, devices, errors: later.errors - earlier.errors };
}

function phase(t: NvmetTestbed, c: FabricCounters, s: DramSplit): OffloadPhaseBytes {
  return { dramDataBytes: s.dataRead + s.dataWrite, dramCommandBytes: s.commandRead + s.commandWrite, dram: s, rootComplexBytes: rootComplexBytes(t, c) };
}

/** Where the target's buffers were: its own log line when it chose p2pmem or refused to, else System RAM. */
function buffersOf(t: NvmetTestbed, p2pBuffers: number, systemBuffers: number): string {
  const line = t.kernel.log.grep(/^nvmet: .*(peer-to-peer|p2pmem)/).at(-1)?.text ?? null;
  if (p2pBuffers > 0 && systemBuffers === 0) return line ?? 'p2pmem';
  if (p2pBuffers === 0) return line === null ? 'System RAM' : `System RAM (${line})`;
  return `mixed: ${p2pBuffers} p2pmem, ${systemBuffers} System RAM (${line ?? 'no nvmet line'})`;
}

function statusText(st: number | undefined): string {
  return st === undefined ? 'none (lost or timed out)' : `0x${st.toString(16)}`;
}

function runOne(topology: string, policy: P2pdmaPolicy, placement: NvmetPlacement, data: Uint8Array, seed: number, hook: OffloadOptions['afterWritePhase']): OffloadRow {
  const size = data.length;
  // The same machine `p2pdma simulate` builds, so the counters match its report.
  const t = buildNvmetTestbed({
    topology,
    policy,
    placement,
    seed,
    namespaceBytes: Math.max(size, 2 ** 20),
    hostMemoryBytes: 2 * size + 16 * 2 ** 20,
  });
  if ('error' in t) return notRun(policy, placement, size, `impossible: ${t.error}`, null);
  const ctrl = t.ctrl;
  if (ctrl === null) return notRun(policy, placement, size, 'impossible: the initiator did not connect', t);
  const fabric = t.sys.fabric;
  const ios = size / OFFLOAD_IO_BYTES;
  const lbas = OFFLOAD_IO_BYTES / OFFLOAD_LBA_BYTES;
  const chunk = (i: number) => data.subarray(i * OFFLOAD_IO_BYTES, (i + 1) * OFFLOAD_IO_BYTES);

  const stats = t.target.subsystems.get(t.subsysnqn)?.ctrls[0]?.stats;
  const p2pBefore = stats?.p2pBuffers ?? 0;
  const systemBefore = stats?.systemBuffers ?? 0;
  fabric.resetCounters();
  const tap = new DramSplitTap(t.kernel, fabric);
  let error: string | null = null;
  try {
    for (let i = 0; i < ios && error === null; i++) {
      const st = ctrl.write(t.nsid, i * lbas, chunk(i)).cqe?.status;
      if (st !== 0) error = `write ${i} (slba ${i * lbas}) failed: status ${statusText(st)}`;
    }
    const wc = fabric.counters();
    const ws = tap.split();
    if (error === null) hook?.({ testbed: t, policy, placement, data });
    const back = new Uint8Array(size);
    for (let i = 0; i < ios && error === null; i++) {
      const r = ctrl.read(t.nsid, i * lbas, lbas);
      const st = r.cqe?.status;
      if (st !== 0 || r.data === null) error = `read ${i} (slba ${i * lbas}) failed: status ${statusText(st)}`;
      else back.set(r.data.subarray(0, OFFLOAD_IO_BYTES), i * OFFLOAD_IO_BYTES);
    }
    const total = fabric.counters();
    const split = tap.split();
    const mismatch = tap.check(total.dram);
    if (mismatch !== null) throw new KernelBug(mismatch);
    const rc = counterDiff(total, wc);
    const diff = error === null ? firstDifference(data, back) : null;
    if (diff !== null) error = `byte ${diff} of the data set read back as 0x${hex2(back[diff])}, written as 0x${hex2(data[diff])}`;
    if (error === null && total.errors > 0) error = `the fabric recorded ${total.errors} failed transfers`;

    const linkInfo = fabric.linkInfo();
    let busiest: OffloadBusiestLink | null = null;
    for (const l of linkInfo) {
      const c = total.links[l.name];
      if (c !== undefined && c.up + c.down > 0 && (busiest === null || c.up + c.down > busiest.upBytes + busiest.downBytes)) busiest = { link: l.name, upBytes: c.up, downBytes: c.down };
    }

    // The perf model: each write and each read is one I/O of OFFLOAD_IO_BYTES.
    const n = 2 * ios;
    const bars: Record<string, number> = {};
    const barRate = t.provider === null ? undefined : rateOf(BAR_RATES, t.provider);
    if (t.provider !== null && barRate !== undefined) bars[t.provider.name] = DEVICE_RATES[barRate].bytesPerSec;
    const resources: PerfResource[] = resourcesFromCounters(total, linkInfo, n, defaultFabricRates(t.sys.hostBridges, bars));
    const nic = rateOf(NIC_RATES, t.rnic);
    if (nic !== undefined) {
      resources.push(deviceResource(`nic ${t.rnic.name} rx`, DEVICE_RATES[nic], size / n));
      resources.push(deviceResource(`nic ${t.rnic.name} tx`, DEVICE_RATES[nic], size / n));
    }
    const media = rateOf(MEDIA_RATES, t.drive);
    if (media !== undefined) {
      resources.push(deviceResource(`media ${t.drive.name} write`, DEVICE_RATES[media.write], size / n));
      resources.push(deviceResource(`media ${t.drive.name} read`, DEVICE_RATES[media.read], size / n));
    }
    const perf = bottleneck(resources, OFFLOAD_IO_BYTES);

    const p2pBuffers = (stats?.p2pBuffers ?? 0) - p2pBefore;
    const systemBuffers = (stats?.systemBuffers ?? 0) - systemBefore;
    const w = phase(t, wc, ws);
    const r = phase(t, rc, dramSplitDiff(split, ws));
    return {
      placement: SCENARIO_PLACEMENT_NAMES[placement],
      policy,
      drive: t.drive.name,
      provider: t.provider?.name ?? null,
      buffers: buffersOf(t, p2pBuffers, systemBuffers),
      dataBytes: size,
      ios,
      p2pBuffers,
      systemBuffers,
      write: w,
      read: r,
      dramDataBytes: w.dramDataBytes + r.dramDataBytes,
      dramCommandBytes: w.dramCommandBytes + r.dramCommandBytes,
      rootComplexBytes: w.rootComplexBytes + r.rootComplexBytes,
      busiestLink: busiest,
      throughputGBps: perf.throughputGBps,
      bottleneck: perf.bottleneck,
      fabricErrors: total.errors,
      verified: error === null,
      firstDifference: diff,
      error,
    };
  } finally {
    tap.detach();
  }
}

function hex2(b: number | undefined): string {
  return (b ?? 0).toString(16).padStart(2, '0');
}
