/**
 * Scenarios: a whole workload run through the model, end to end. The built-in
 * `nvmf-p2p-offload` is the seed series' headline: a remote host writes a data set through the
 * NVMe-oF target on the seed-switch machine and reads it back, once per buffer placement (System
 * RAM, the p2pmem card, the exported drive's CMB). Each placement gets a fresh machine; the fabric
 * counters are reset before the workload and read after each phase; the performance model turns
 * those counters (plus the NIC port and the drive's media) into a predicted throughput and names
 * the bottleneck; every byte read back is compared with what was written.
 *
 * @kernel — (drives drivers/nvme/target through @p2pdma/nvmet's testbed)
 */
import type { P2pdmaPolicy } from '@p2pdma/kernel';
import type { FabricCounters, PciDev, TopologySpec } from '@p2pdma/pci-core';
import { PCI_EXP_TYPE_ROOT_PORT, pciPcieType } from '@p2pdma/pci-core';
import type { NvmetPlacement, NvmetTestbed, NvmfController, NvmfIo } from '@p2pdma/nvmet';
import { buildNvmetTestbed, NVMF_DEF_QUEUE_SIZE, nvmeRwCommand } from '@p2pdma/nvmet';
import type { PerfResource } from './perf-model';
import { bottleneck, defaultFabricRates, deviceResource, resourcesFromCounters } from './perf-model';
import type { DeviceRateName } from './perf-rates';
import { DEVICE_RATES } from './perf-rates';
import { firstDifference, seededDataSet } from './data-set';

/** JSON schema tag of a {@link ScenarioReport}. */
export const SIMULATE_JSON_SCHEMA = 'p2pdma-cli/simulate/v1';

/** Placement names as the report spells them, by testbed placement. */
export const SCENARIO_PLACEMENT_NAMES: Readonly<Record<NvmetPlacement, ScenarioPlacementName>> = {
  system: 'system-memory',
  p2pmem: 'p2pmem',
  cmb: 'cmb',
};

/** A placement as the report names it. */
export type ScenarioPlacementName = 'system-memory' | 'p2pmem' | 'cmb';

/** Which functions of the machine play which part (each defaults as nvmet's testbed picks it). */
export interface ScenarioTarget {
  /** BDF of the RNIC (default: the first function with role `rnic`). */
  readonly rnic?: string;
  /** BDF of the exported drive (default: for `cmb` the first NVMe function with a CMB, else the first without). */
  readonly drive?: string;
  /** BDF of the p2pmem card (default: the first function with role `p2pmem`). */
  readonly card?: string;
  /** Size of the exported namespace in bytes, a multiple of 512 that holds the data written (default: the data, at least 1 MiB). */
  readonly namespaceBytes?: number;
}

/** A scenario: which machine, which functions, which placements. */
export interface Scenario {
  /** Its name (`nvmf-p2p-offload`). */
  readonly name: string;
  /** One line on what it shows. */
  readonly description: string;
  /** A built-in topology name, or a validated topology. */
  readonly topology: string | TopologySpec;
  /** How the report names the topology (default: the built-in name, or the topology's `name`). */
  readonly topologyLabel?: string;
  /** The placements to run, in order. */
  readonly placements: readonly NvmetPlacement[];
  /** The RNIC, drive, card and namespace size (default: as the testbed picks them). */
  readonly target?: ScenarioTarget;
}

/** The built-in scenarios, by name. */
export const BUILTIN_SCENARIOS: Readonly<Record<string, Scenario>> = {
  'nvmf-p2p-offload': {
    name: 'nvmf-p2p-offload',
    description:
      'A remote host writes a data set through the NVMe-oF target on the seed-switch machine and reads it back, with the I/O buffers in System RAM, in the p2pmem card and in the exported SSD\'s CMB',
    topology: 'seed-switch',
    placements: ['system', 'p2pmem', 'cmb'],
  },
};

/**
 * The built-in scenario of a name.
 * @param name `nvmf-p2p-offload` or `builtin:nvmf-p2p-offload`.
 * @returns the scenario (shared, read-only), or `null` when there is no such built-in.
 */
export function scenarioByName(name: string): Scenario | null {
  const bare = name.startsWith('builtin:') ? name.slice('builtin:'.length) : name;
  return Object.hasOwn(BUILTIN_SCENARIOS, bare) ? (BUILTIN_SCENARIOS[bare] ?? null) : null;
}

/** Where a run is: reported after every batch of I/Os completes. */
export interface ScenarioProgress {
  /** The placement running. */
  readonly placement: ScenarioPlacementName;
  /** I/Os completed so far over the whole run (every placement). */
  readonly done: number;
  /** I/Os of the whole run: placements × (writes + reads). */
  readonly total: number;
}

/** Options of {@link runScenario}. */
export interface ScenarioOptions {
  /** The P2PDMA policy (default `upstream`). */
  readonly policy?: P2pdmaPolicy;
  /** Bytes per I/O, a positive multiple of 512 (default {@link DEFAULT_SCENARIO_IO_BYTES}). */
  readonly ioBytes?: number;
  /** Writes in the write phase, each to its own blocks (default {@link DEFAULT_SCENARIO_IOS}). */
  readonly ios?: number;
  /**
   * Reads in the read phase (default: `ios`, each written block read back once). Read `j` reads
   * written block `j mod ios`, so more reads than writes read blocks again; 0 skips the phase.
   */
  readonly reads?: number;
  /**
   * Commands submitted before waiting (default 1): each phase submits batches of this many and
   * waits for the batch, 1 to {@link MAX_SCENARIO_QUEUE_DEPTH}. The fabric bytes do not depend on
   * it; the commands in flight at once do.
   */
  readonly queueDepth?: number;
  /** Seed of the kernel RNG and of the data written (default 1). */
  readonly seed?: number;
  /** Called after each batch completes (a progress bar; it must not throw). */
  readonly onProgress?: (p: ScenarioProgress) => void;
}

/** Deepest batch {@link runScenario} submits: one less than the initiator's default I/O queue size (an NVMe queue of N entries holds N − 1 commands). */
export const MAX_SCENARIO_QUEUE_DEPTH = NVMF_DEF_QUEUE_SIZE - 1;

/** Default bytes per I/O: 64 KiB. */
export const DEFAULT_SCENARIO_IO_BYTES = 64 * 1024;
/** Default I/Os per phase: 64 writes, then 64 reads (4 MiB each way; the three placements run in well under a second). */
export const DEFAULT_SCENARIO_IOS = 64;
/** Largest data set {@link runScenario} accepts, so the remote host's memory and the namespace hold it. */
export const MAX_SCENARIO_DATA_BYTES = 256 * 2 ** 20;

/** Logical block size of the exported namespace. */
const LBA_BYTES = 512;

/** One link's bytes in a placement report. */
export interface ScenarioLinkBytes {
  /** Link name (the downstream function-0 BDF). */
  readonly link: string;
  /** Bytes towards the root. */
  readonly upBytes: number;
  /** Bytes away from the root. */
  readonly downBytes: number;
}

/** Fabric bytes of one phase. */
export interface ScenarioPhaseBytes {
  /** DRAM bytes read plus written by DMA. */
  readonly dramBytes: number;
  /** Bytes the root complexes forwarded peer to peer or to/from DRAM (root-port link bytes: see {@link ScenarioPlacementReport.rootComplexBytes}). */
  readonly rootComplexBytes: number;
}

/** One placement's result. */
export interface ScenarioPlacementReport {
  /** The placement. */
  readonly placement: ScenarioPlacementName;
  /** The exported drive's BDF. */
  readonly drive: string;
  /** The P2P provider the placement intends (`null` for System RAM). */
  readonly provider: string | null;
  /** Commands whose data buffer the target took from p2pmem (`ctrl.stats.p2pBuffers`). */
  readonly p2pBuffers: number;
  /** DRAM bytes read plus written by DMA over the whole workload. */
  readonly dramBytes: number;
  /**
   * Bytes through the root complex: every byte on a link whose upstream end is a root port, both
   * directions (traffic between DRAM and the devices below, and peer traffic routed up), plus
   * bytes a root complex forwarded between its root ports.
   */
  readonly rootComplexBytes: number;
  /** Per phase, the same two figures. */
  readonly phases: { readonly write: ScenarioPhaseBytes; readonly read: ScenarioPhaseBytes };
  /** Every link that carried bytes, in the fabric's link order. */
  readonly links: ScenarioLinkBytes[];
  /** Predicted payload throughput, GB/s (1e9 B/s), of the mixed write + read workload. */
  readonly throughputGBps: number;
  /** The resource limiting it (`link 0000:03:00.0 up`, `dram`, `nic 0000:03:00.0 rx`, `media 0000:05:00.0 write`). */
  readonly bottleneck: string;
  /** Fabric errors recorded (0 when every transfer routed). */
  readonly fabricErrors: number;
  /** Whether every byte read back matched what was written (and every command succeeded). */
  readonly verified: boolean;
  /** Why not verified, or why the placement could not run; `null` when verified. */
  readonly error: string | null;
}

/** A scenario's report ({@link SIMULATE_JSON_SCHEMA}). */
export interface ScenarioReport {
  /** {@link SIMULATE_JSON_SCHEMA}. */
  readonly schema: typeof SIMULATE_JSON_SCHEMA;
  /** Scenario name. */
  readonly scenario: string;
  /** The machine. */
  readonly topology: string;
  /** The policy. */
  readonly policy: P2pdmaPolicy;
  /** Bytes per I/O. */
  readonly ioBytes: number;
  /** Writes per placement. */
  readonly ios: number;
  /** Reads per placement (each of a written block). */
  readonly reads: number;
  /** Commands submitted before each wait. */
  readonly queueDepth: number;
  /** Bytes written per placement (`ioBytes × ios`; the reads read `ioBytes × reads`). */
  readonly dataBytes: number;
  /** Whether every placement verified. */
  readonly verified: boolean;
  /** Per placement, in the scenario's order. */
  readonly placements: ScenarioPlacementReport[];
}

/** NVMe media rates by `vendor:device` (hex): the drive's sustained read and write. */
const MEDIA_RATES: Readonly<Record<string, { readonly read: DeviceRateName; readonly write: DeviceRateName }>> = {
  // Intel SSD DC P3700.
  '8086:0953': { read: 'p3700-read', write: 'p3700-write' },
  // Eideticom NoLoad: its namespace lives in the same FPGA DDR4 as its CMB (model assumption).
  '1de5:2000': { read: 'noload-cmb', write: 'noload-cmb' },
};

/** BAR memory rates of P2P providers by `vendor:device` (hex). */
const BAR_RATES: Readonly<Record<string, DeviceRateName>> = {
  '1de5:2000': 'noload-cmb',
  '1de5:1000': 'p2pmem-bar',
};

/** NIC port rates by `vendor:device` (hex). */
const NIC_RATES: Readonly<Record<string, DeviceRateName>> = {
  '15b3:1017': 'connectx5-100g-port',
};

function idOf(d: PciDev): string {
  const h = (n: number | null) => (n === null ? '????' : n.toString(16).padStart(4, '0'));
  return `${h(d.vendor)}:${h(d.device)}`;
}

/** Root-complex bytes of a counter snapshot: root-port links (both ways) plus peer forwarding. */
function phaseBytes(t: NvmetTestbed, c: FabricCounters): ScenarioPhaseBytes {
  const rootPorts = new Set(t.sys.deviceList.filter((d) => pciPcieType(d) === PCI_EXP_TYPE_ROOT_PORT).map((d) => d.name));
  let rc = 0;
  for (const l of t.sys.fabric.linkInfo()) {
    if (!rootPorts.has(l.upstream)) continue;
    const lc = c.links[l.name];
    if (lc !== undefined) rc += lc.up + lc.down;
  }
  for (const r of Object.values(c.rootComplexes)) rc += r.peerForwarded;
  return { dramBytes: c.dram.read + c.dram.write, rootComplexBytes: rc };
}

function sumCounters(a: FabricCounters, b: FabricCounters): FabricCounters {
  const links: FabricCounters['links'] = {};
  for (const src of [a.links, b.links]) {
    for (const [k, v] of Object.entries(src)) {
      const o = links[k] ?? { up: 0, down: 0 };
      links[k] = { up: o.up + v.up, down: o.down + v.down };
    }
  }
  const rootComplexes: FabricCounters['rootComplexes'] = {};
  for (const src of [a.rootComplexes, b.rootComplexes]) {
    for (const [k, v] of Object.entries(src)) {
      const o = rootComplexes[k];
      rootComplexes[k] = o === undefined ? { ...v } : { ...o, peerForwarded: o.peerForwarded + v.peerForwarded };
    }
  }
  const devices: FabricCounters['devices'] = {};
  for (const src of [a.devices, b.devices]) {
    for (const [k, v] of Object.entries(src)) {
      const o = devices[k] ?? { barRead: 0, barWrite: 0, internal: 0 };
      devices[k] = { barRead: o.barRead + v.barRead, barWrite: o.barWrite + v.barWrite, internal: o.internal + v.internal };
    }
  }
  return { links, rootComplexes, dram: { read: a.dram.read + b.dram.read, write: a.dram.write + b.dram.write }, devices, errors: a.errors + b.errors };
}

function failed(placement: NvmetPlacement, error: string, t: NvmetTestbed | null): ScenarioPlacementReport {
  const zero = { dramBytes: 0, rootComplexBytes: 0 };
  return {
    placement: SCENARIO_PLACEMENT_NAMES[placement],
    drive: t?.drive.name ?? '',
    provider: t?.provider?.name ?? null,
    p2pBuffers: 0,
    dramBytes: 0,
    rootComplexBytes: 0,
    phases: { write: zero, read: zero },
    links: [],
    throughputGBps: 0,
    bottleneck: '',
    fabricErrors: 0,
    verified: false,
    error,
  };
}

/** The workload of one run, validated. */
interface Workload {
  readonly policy: P2pdmaPolicy;
  readonly ioBytes: number;
  readonly ios: number;
  readonly reads: number;
  readonly queueDepth: number;
  readonly seed: number;
  /** Counts completed I/Os and reports progress. */
  readonly progress: (placement: NvmetPlacement, n: number) => void;
}

/** A command status as the report words it. */
function statusText(st: number | undefined): string {
  return st === undefined ? 'none (timed out)' : `0x${st.toString(16)}`;
}

/**
 * Submit `count` commands in batches of `depth`, waiting for each batch.
 * @returns the first error (naming the command), or `null`.
 */
function runBatches(
  ctrl: NvmfController,
  count: number,
  depth: number,
  submit: (i: number) => NvmfIo,
  check: (i: number, r: ReturnType<NvmfController['wait']>[number]) => string | null,
  done: (n: number) => void,
): string | null {
  for (let first = 0; first < count; first += depth) {
    const n = Math.min(depth, count - first);
    const batch: NvmfIo[] = [];
    try {
      for (let k = 0; k < n; k++) batch.push(submit(first + k));
    } catch (e) {
      ctrl.wait(batch);
      return `I/O ${first + batch.length}: ${(e as Error).message}`;
    }
    const results = ctrl.wait(batch);
    for (let k = 0; k < n; k++) {
      const err = check(first + k, results[k]!);
      if (err !== null) return err;
    }
    done(n);
  }
  return null;
}

function runPlacement(s: Scenario, placement: NvmetPlacement, w: Workload): ScenarioPlacementReport {
  const { ioBytes, ios, reads, seed } = w;
  const dataBytes = ioBytes * ios;
  const target = s.target ?? {};
  const t = buildNvmetTestbed({
    topology: s.topology,
    policy: w.policy,
    placement,
    seed,
    ...(target.rnic !== undefined ? { rnic: target.rnic } : {}),
    ...(target.drive !== undefined ? { drive: target.drive } : {}),
    ...(target.card !== undefined ? { card: target.card } : {}),
    namespaceBytes: target.namespaceBytes ?? Math.max(dataBytes, 2 ** 20),
    hostMemoryBytes: dataBytes + w.queueDepth * ioBytes + 16 * 2 ** 20,
  });
  if ('error' in t) return failed(placement, `testbed: ${t.error}`, null);
  const ctrl = t.ctrl;
  if (ctrl === null) return failed(placement, 'testbed: the initiator did not connect', t);
  const data = seededDataSet(dataBytes, seed);
  const nlb = ioBytes / LBA_BYTES;
  const fabric = t.sys.fabric;
  const block = (b: number) => data.subarray(b * ioBytes, (b + 1) * ioBytes);
  const done = (n: number) => w.progress(placement, n);

  fabric.resetCounters();
  let error = runBatches(
    ctrl,
    ios,
    w.queueDepth,
    (i) => ctrl.submit(1, nvmeRwCommand({ write: true, nsid: t.nsid, slba: i * nlb, nlb }), { write: block(i) }),
    (i, r) => (r.cqe?.status === 0 ? null : `write ${i} (slba ${i * nlb}) failed: status ${statusText(r.cqe?.status)}`),
    done,
  );
  const wc = fabric.counters();
  fabric.resetCounters();
  if (error === null) {
    error = runBatches(
      ctrl,
      reads,
      w.queueDepth,
      (j) => ctrl.submit(1, nvmeRwCommand({ write: false, nsid: t.nsid, slba: (j % ios) * nlb, nlb }), { readLen: ioBytes }),
      (j, r) => {
        const b = j % ios;
        if (r.cqe?.status !== 0) return `read ${j} (slba ${b * nlb}) failed: status ${statusText(r.cqe?.status)}`;
        if (r.data === null || firstDifference(block(b), r.data) !== null) return `read ${j} (slba ${b * nlb}) returned different bytes than were written`;
        return null;
      },
      done,
    );
  }
  const rc = fabric.counters();
  const total = sumCounters(wc, rc);

  const linkInfo = fabric.linkInfo();
  const links: ScenarioLinkBytes[] = [];
  for (const l of linkInfo) {
    const c = total.links[l.name];
    if (c !== undefined && c.up + c.down > 0) links.push({ link: l.name, upBytes: c.up, downBytes: c.down });
  }

  // The perf model: one I/O is one write or one read of ioBytes (ios + reads I/Os in all).
  const n = ios + reads;
  const bars: Record<string, number> = {};
  if (t.provider !== null) {
    const r = BAR_RATES[idOf(t.provider)];
    if (r !== undefined) bars[t.provider.name] = DEVICE_RATES[r].bytesPerSec;
  }
  const resources: PerfResource[] = resourcesFromCounters(total, linkInfo, n, defaultFabricRates(t.sys.hostBridges, bars));
  const nic = NIC_RATES[idOf(t.rnic)];
  const written = ios * ioBytes;
  const readBack = reads * ioBytes;
  if (nic !== undefined) {
    resources.push(deviceResource(`nic ${t.rnic.name} rx`, DEVICE_RATES[nic], written / n));
    resources.push(deviceResource(`nic ${t.rnic.name} tx`, DEVICE_RATES[nic], readBack / n));
  }
  const media = MEDIA_RATES[idOf(t.drive)];
  if (media !== undefined) {
    resources.push(deviceResource(`media ${t.drive.name} write`, DEVICE_RATES[media.write], written / n));
    resources.push(deviceResource(`media ${t.drive.name} read`, DEVICE_RATES[media.read], readBack / n));
  }
  const perf = bottleneck(resources, ioBytes);
  const wp = phaseBytes(t, wc);
  const rp = phaseBytes(t, rc);
  if (error === null && total.errors > 0) error = `the fabric recorded ${total.errors} failed transfers`;
  const targetCtrl = t.target.subsystems.get(t.subsysnqn)?.ctrls[0];
  return {
    placement: SCENARIO_PLACEMENT_NAMES[placement],
    drive: t.drive.name,
    provider: t.provider?.name ?? null,
    p2pBuffers: targetCtrl?.stats.p2pBuffers ?? 0,
    dramBytes: wp.dramBytes + rp.dramBytes,
    rootComplexBytes: wp.rootComplexBytes + rp.rootComplexBytes,
    phases: { write: wp, read: rp },
    links,
    throughputGBps: perf.throughputGBps,
    bottleneck: perf.bottleneck,
    fabricErrors: total.errors,
    verified: error === null,
    error,
  };
}

/**
 * Run a scenario: per placement, a fresh machine, the fabric counters reset, `ios` writes of
 * `ioBytes` (each to its own blocks) then `reads` reads of the written blocks, submitted in
 * batches of `queueDepth`; every byte read is compared with what was written; the counters turn
 * into a predicted throughput. A placement that cannot be set up (the testbed's `{ error }`, e.g.
 * a `drive` without a CMB for `cmb`) is reported unverified with that error; the others still run.
 * @param scenario a built-in name (`nvmf-p2p-offload`, with or without `builtin:`) or a scenario
 *   (a built-in topology name or a topology, the placements, the target functions).
 * @param opts policy, I/O size, writes, reads, queue depth, seed, progress callback.
 * @returns the report (a fresh object the caller owns).
 * @throws RangeError for an unknown scenario name, an `ioBytes` that is not a positive multiple of
 *   512, a non-positive `ios`, a negative `reads`, a `queueDepth` outside 1..{@link MAX_SCENARIO_QUEUE_DEPTH},
 *   a data set above {@link MAX_SCENARIO_DATA_BYTES}, or a `target.namespaceBytes` that is not a
 *   multiple of 512 or cannot hold the data; each message names the input.
 */
export function runScenario(scenario: string | Scenario, opts: ScenarioOptions = {}): ScenarioReport {
  const s = typeof scenario === 'string' ? scenarioByName(scenario) : scenario;
  if (s === null) throw new RangeError(`scenario '${String(scenario)}': no such built-in (known: ${Object.keys(BUILTIN_SCENARIOS).map((k) => `builtin:${k}`).join(', ')})`);
  const ioBytes = opts.ioBytes ?? DEFAULT_SCENARIO_IO_BYTES;
  const ios = opts.ios ?? DEFAULT_SCENARIO_IOS;
  const reads = opts.reads ?? ios;
  const queueDepth = opts.queueDepth ?? 1;
  const policy = opts.policy ?? 'upstream';
  const seed = opts.seed ?? 1;
  if (!Number.isSafeInteger(ioBytes) || ioBytes <= 0 || ioBytes % LBA_BYTES !== 0) throw new RangeError(`ioBytes ${ioBytes} must be a positive multiple of ${LBA_BYTES}`);
  if (!Number.isSafeInteger(ios) || ios <= 0) throw new RangeError(`ios ${ios} must be a positive integer`);
  if (!Number.isSafeInteger(reads) || reads < 0) throw new RangeError(`reads ${reads} must be an integer ≥ 0`);
  if (!Number.isSafeInteger(queueDepth) || queueDepth < 1 || queueDepth > MAX_SCENARIO_QUEUE_DEPTH) throw new RangeError(`queueDepth ${queueDepth} must be an integer from 1 to ${MAX_SCENARIO_QUEUE_DEPTH}`);
  if (ioBytes * ios > MAX_SCENARIO_DATA_BYTES) throw new RangeError(`ioBytes × ios = ${ioBytes * ios} exceeds ${MAX_SCENARIO_DATA_BYTES} bytes`);
  const ns = s.target?.namespaceBytes;
  if (ns !== undefined && (!Number.isSafeInteger(ns) || ns <= 0 || ns % LBA_BYTES !== 0)) throw new RangeError(`target.namespaceBytes ${ns} must be a positive multiple of ${LBA_BYTES}`);
  if (ns !== undefined && ns < ioBytes * ios) throw new RangeError(`target.namespaceBytes ${ns} cannot hold the ${ioBytes * ios} bytes written (ioBytes × ios)`);
  const total = s.placements.length * (ios + reads);
  let completed = 0;
  const progress = (placement: NvmetPlacement, n: number) => {
    completed += n;
    opts.onProgress?.({ placement: SCENARIO_PLACEMENT_NAMES[placement], done: completed, total });
  };
  const w: Workload = { policy, ioBytes, ios, reads, queueDepth, seed, progress };
  const placements = s.placements.map((p) => {
    const before = completed;
    const r = runPlacement(s, p, w);
    // A placement that stopped early still counts as run, so the bar reaches the end.
    if (completed < before + ios + reads) progress(p, before + ios + reads - completed);
    return r;
  });
  return {
    schema: SIMULATE_JSON_SCHEMA,
    scenario: s.name,
    topology: s.topologyLabel ?? (typeof s.topology === 'string' ? s.topology : (s.topology.name ?? 'inline topology')),
    policy,
    ioBytes,
    ios,
    reads,
    queueDepth,
    dataBytes: ioBytes * ios,
    verified: placements.every((p) => p.verified),
    placements,
  };
}
