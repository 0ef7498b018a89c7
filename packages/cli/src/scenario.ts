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
import type { FabricCounters, PciDev } from '@p2pdma/pci-core';
import { PCI_EXP_TYPE_ROOT_PORT, pciPcieType } from '@p2pdma/pci-core';
import type { NvmetPlacement, NvmetTestbed } from '@p2pdma/nvmet';
import { buildNvmetTestbed } from '@p2pdma/nvmet';
import type { PerfResource } from './perf-model';
import { bottleneck, defaultFabricRates, deviceResource, resourcesFromCounters } from './perf-model';
import type { DeviceRateName } from './perf-rates';
import { DEVICE_RATES } from './perf-rates';

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

/** A scenario: which machine, which placements. */
export interface Scenario {
  /** Its name (`nvmf-p2p-offload`). */
  readonly name: string;
  /** One line on what it shows. */
  readonly description: string;
  /** A built-in topology name. */
  readonly topology: string;
  /** The placements to run, in order. */
  readonly placements: readonly NvmetPlacement[];
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

/** Options of {@link runScenario}. */
export interface ScenarioOptions {
  /** The P2PDMA policy (default `upstream`). */
  readonly policy?: P2pdmaPolicy;
  /** Bytes per I/O, a positive multiple of 512 (default {@link DEFAULT_SCENARIO_IO_BYTES}). */
  readonly ioBytes?: number;
  /** Writes in the write phase, and reads in the read phase (default {@link DEFAULT_SCENARIO_IOS}). */
  readonly ios?: number;
  /** Seed of the kernel RNG and of the data written (default 1). */
  readonly seed?: number;
}

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
  /** Writes (and reads) per placement. */
  readonly ios: number;
  /** Bytes written (and read back) per placement. */
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

/** Deterministic bytes (xorshift32, a word at a time, typed arrays only). */
function dataSet(len: number, seed: number): Uint8Array {
  const words = new Uint32Array(Math.ceil(len / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return new Uint8Array(words.buffer, 0, len);
}

function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && Buffer.from(a.buffer, a.byteOffset, a.length).equals(Buffer.from(b.buffer, b.byteOffset, b.length));
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

function runPlacement(s: Scenario, placement: NvmetPlacement, policy: P2pdmaPolicy, ioBytes: number, ios: number, seed: number): ScenarioPlacementReport {
  const dataBytes = ioBytes * ios;
  const t = buildNvmetTestbed({
    topology: s.topology,
    policy,
    placement,
    seed,
    namespaceBytes: Math.max(dataBytes, 2 ** 20),
    hostMemoryBytes: 2 * dataBytes + 16 * 2 ** 20,
  });
  if ('error' in t) return failed(placement, `testbed: ${t.error}`, null);
  const ctrl = t.ctrl;
  if (ctrl === null) return failed(placement, 'testbed: the initiator did not connect', t);
  const data = dataSet(dataBytes, seed);
  const nlb = ioBytes / LBA_BYTES;
  const fabric = t.sys.fabric;

  fabric.resetCounters();
  let error: string | null = null;
  for (let i = 0; i < ios && error === null; i++) {
    const st = ctrl.write(t.nsid, i * nlb, data.subarray(i * ioBytes, (i + 1) * ioBytes)).cqe?.status;
    if (st !== 0) error = `write ${i} (slba ${i * nlb}) failed: status ${st === undefined ? 'none (timed out)' : `0x${st.toString(16)}`}`;
  }
  const wc = fabric.counters();
  fabric.resetCounters();
  for (let i = 0; i < ios && error === null; i++) {
    const r = ctrl.read(t.nsid, i * nlb, nlb);
    const st = r.cqe?.status;
    if (st !== 0) error = `read ${i} (slba ${i * nlb}) failed: status ${st === undefined ? 'none (timed out)' : `0x${st.toString(16)}`}`;
    else if (r.data === null || !equalBytes(r.data, data.subarray(i * ioBytes, (i + 1) * ioBytes))) error = `read ${i} (slba ${i * nlb}) returned different bytes than were written`;
  }
  const rc = fabric.counters();
  const total = sumCounters(wc, rc);

  const linkInfo = fabric.linkInfo();
  const links: ScenarioLinkBytes[] = [];
  for (const l of linkInfo) {
    const c = total.links[l.name];
    if (c !== undefined && c.up + c.down > 0) links.push({ link: l.name, upBytes: c.up, downBytes: c.down });
  }

  // The perf model: one I/O is one write or one read of ioBytes (2 × ios I/Os in all).
  const n = 2 * ios;
  const bars: Record<string, number> = {};
  if (t.provider !== null) {
    const r = BAR_RATES[idOf(t.provider)];
    if (r !== undefined) bars[t.provider.name] = DEVICE_RATES[r].bytesPerSec;
  }
  const resources: PerfResource[] = resourcesFromCounters(total, linkInfo, n, defaultFabricRates(t.sys.hostBridges, bars));
  const nic = NIC_RATES[idOf(t.rnic)];
  const written = ios * ioBytes;
  const readBack = ios * ioBytes;
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
  const w = phaseBytes(t, wc);
  const r = phaseBytes(t, rc);
  if (error === null && total.errors > 0) error = `the fabric recorded ${total.errors} failed transfers`;
  const target = t.target.subsystems.get(t.subsysnqn)?.ctrls[0];
  return {
    placement: SCENARIO_PLACEMENT_NAMES[placement],
    drive: t.drive.name,
    provider: t.provider?.name ?? null,
    p2pBuffers: target?.stats.p2pBuffers ?? 0,
    dramBytes: w.dramBytes + r.dramBytes,
    rootComplexBytes: w.rootComplexBytes + r.rootComplexBytes,
    phases: { write: w, read: r },
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
 * `ioBytes` then `ios` reads of the same blocks, the bytes compared, the counters turned into a
 * predicted throughput. A placement that cannot be set up (the testbed's `{ error }`) is reported
 * unverified with that error; the other placements still run.
 * @param scenario a built-in name (`nvmf-p2p-offload`, with or without `builtin:`) or a scenario.
 * @param opts policy, I/O size and count, seed.
 * @returns the report (a fresh object the caller owns).
 * @throws RangeError for an unknown scenario name, an `ioBytes` that is not a positive multiple of
 *   512, a non-positive `ios`, or a data set above {@link MAX_SCENARIO_DATA_BYTES}.
 */
export function runScenario(scenario: string | Scenario, opts: ScenarioOptions = {}): ScenarioReport {
  const s = typeof scenario === 'string' ? scenarioByName(scenario) : scenario;
  if (s === null) throw new RangeError(`scenario '${String(scenario)}': no such built-in (known: ${Object.keys(BUILTIN_SCENARIOS).map((k) => `builtin:${k}`).join(', ')})`);
  const ioBytes = opts.ioBytes ?? DEFAULT_SCENARIO_IO_BYTES;
  const ios = opts.ios ?? DEFAULT_SCENARIO_IOS;
  const policy = opts.policy ?? 'upstream';
  const seed = opts.seed ?? 1;
  if (!Number.isSafeInteger(ioBytes) || ioBytes <= 0 || ioBytes % LBA_BYTES !== 0) throw new RangeError(`ioBytes ${ioBytes} must be a positive multiple of ${LBA_BYTES}`);
  if (!Number.isSafeInteger(ios) || ios <= 0) throw new RangeError(`ios ${ios} must be a positive integer`);
  if (ioBytes * ios > MAX_SCENARIO_DATA_BYTES) throw new RangeError(`ioBytes × ios = ${ioBytes * ios} exceeds ${MAX_SCENARIO_DATA_BYTES} bytes`);
  const placements = s.placements.map((p) => runPlacement(s, p, policy, ioBytes, ios, seed));
  return {
    schema: SIMULATE_JSON_SCHEMA,
    scenario: s.name,
    topology: s.topology,
    policy,
    ioBytes,
    ios,
    dataBytes: ioBytes * ios,
    verified: placements.every((p) => p.verified),
    placements,
  };
}
