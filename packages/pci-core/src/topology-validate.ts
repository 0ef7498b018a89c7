/**
 * Validation of a {@link TopologySpec}: the shape of every field (hand-written, no schema
 * library), then the tree the bus numbers describe (each bus provided by exactly one bridge or
 * host bridge, nested ranges, no cycles, no orphans), then the BARs (sizes, indexes, fixed
 * addresses aligned and not overlapping).
 *
 * Every error names the JSON path of the offending value and the reason, so a hand-written
 * topology file can be fixed from the message alone. Validation never changes its input: a
 * valid input comes back as a fresh, normalized copy (BDFs in `dddd:bb:dd.f` form).
 */
import { escapeControls } from './internal/escape';
import { DEFAULT_SYSTEM_RAM } from '@p2pdma/kernel';
import { type Bdf, PCI_MAX_BUS, PCI_MAX_DOMAIN, bdfKey, compareBdf, formatBdf, formatBus, parseBdf } from './bdf';
import type {
  AcsBitName,
  AcsSpec,
  BarSpec,
  CpuSpec,
  DeviceRole,
  DeviceSpec,
  HostBridgeSpec,
  NvmeSpec,
  P2pmemSpec,
  PciePortType,
  PcieSpec,
  PeerForwarding,
  TopologySpec,
} from './topology-spec';
import { TOPOLOGY_SCHEMA_V1 } from './topology-spec';

/** One validation failure: where (a JSON path such as `$.devices[3].bars[0].size`) and why. */
export interface TopologyError {
  path: string;
  message: string;
}

/** Result of validating or parsing a topology: the normalized spec, or every error found. */
export type TopologyResult = { ok: true; spec: TopologySpec } | { ok: false; errors: TopologyError[] };

/** Every PCIe port type the schema accepts (the Express capability's Device/Port Type values). */
export const PCIE_PORT_TYPES: readonly PciePortType[] = [
  'endpoint',
  'legacy-endpoint',
  'root-port',
  'upstream-port',
  'downstream-port',
  'pcie-pci-bridge',
  'pci-pcie-bridge',
  'rc-endpoint',
  'rc-event-collector',
];

/** ACS bit names in capability-register order (bit 0 = SV ... bit 6 = DT). */
export const ACS_BIT_NAMES: readonly AcsBitName[] = ['SV', 'TB', 'RR', 'CR', 'UF', 'EC', 'DT'];

/** Device roles the schema accepts. */
export const DEVICE_ROLES: readonly DeviceRole[] = ['nvme', 'rnic', 'p2pmem', 'gpu', 'nic', 'other'];

/** CMBSZ support flags the schema accepts for `nvme.cmb.flags`. */
export const NVME_CMB_FLAGS: readonly string[] = ['SQS', 'CQS', 'LISTS', 'RDS', 'WDS'];

/** Link widths a PCIe link can train to. */
export const PCIE_LINK_WIDTHS: readonly number[] = [1, 2, 4, 8, 12, 16, 32];

/** Highest PCIe link generation (Gen6, 64 GT/s). */
export const PCIE_MAX_GEN = 6;

/** Max payload sizes the Device Control register can select. */
export const PCIE_PAYLOAD_SIZES: readonly number[] = [128, 256, 512, 1024, 2048, 4096];

/** BARs of a type 0 header: indexes 0-5. */
export const PCI_NUM_BARS = 6;

/** Smallest memory BAR (the low 4 bits are flags). */
export const PCI_MIN_MEM_BAR = 16;
/** Smallest I/O BAR (the low 2 bits are flags). */
export const PCI_MIN_IO_BAR = 4;


const CPU_VENDORS: readonly CpuSpec['vendor'][] = ['amd', 'intel', 'other'];
const PEER_FORWARDING: readonly PeerForwarding[] = ['forward', 'drop'];

const TOP_KEYS: ReadonlySet<string> = new Set(['schema', 'name', 'description', 'cpu', 'iommu', 'systemRam', 'hostBridges', 'devices', 'warnings']);
const HB_KEYS: ReadonlySet<string> = new Set(['domain', 'bus', 'busEnd', 'memWindow', 'peerForwarding', 'label']);
const DEVICE_KEYS: ReadonlySet<string> = new Set([
  'bdf',
  'vendor',
  'device',
  'subsystemVendor',
  'subsystemDevice',
  'classCode',
  'revision',
  'label',
  'headerType',
  'secondaryBus',
  'subordinateBus',
  'pcie',
  'acs',
  'bars',
  'physfn',
  'driver',
  'role',
  'p2pmem',
  'nvme',
]);
const PCIE_KEYS: ReadonlySet<string> = new Set(['portType', 'linkGen', 'linkWidth', 'maxLinkGen', 'maxLinkWidth', 'mps']);
const BAR_KEYS: ReadonlySet<string> = new Set(['index', 'size', 'kind', 'prefetchable', 'is64', 'address']);

// ---------------------------------------------------------------------------------------------
// Formatting helpers
// ---------------------------------------------------------------------------------------------

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

function hexDomain(n: number): string {
  return n.toString(16).padStart(4, '0');
}

function hexAddr(n: number): string {
  return `0x${n.toString(16)}`;
}

function describe(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  if (typeof v === 'string') return `'${v.length > 40 ? `${v.slice(0, 40)}…` : v}'`;
  if (typeof v === 'object') return 'an object';
  return String(v);
}

function isKeySet(allowed: ReadonlySet<string> | readonly string[]): allowed is ReadonlySet<string> {
  return allowed instanceof Set;
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function isPowerOfTwo(n: number): boolean {
  // Numbers here may exceed 2^32, so no 32-bit tricks: the nearest power of two by its exponent
  // (exact for every safe integer; a loop halving a 16 GiB BAR size ran 34 times per BAR).
  if (!Number.isSafeInteger(n) || n <= 0) return false;
  return 2 ** Math.round(Math.log2(n)) === n;
}

// ---------------------------------------------------------------------------------------------
// Shape checking (one small checker per field type, each pushing errors with the path)
// ---------------------------------------------------------------------------------------------

/** Join a JSON path and a key (`''` = the path itself; `[i]` or `.k...` appended as is). */
function joinPath(base: string, key: string): string {
  if (key === '') return base;
  const c = key.charCodeAt(0);
  return c === 91 /* [ */ || c === 46 /* . */ ? base + key : `${base}.${key}`;
}

/**
 * Collects errors. Each check takes the parent path and the key separately and joins them only
 * when it reports an error, so validating a large topology builds no path strings.
 */
class Checker {
  readonly errors: TopologyError[] = [];

  /** Record an error; line breaks and other control characters quoted from the input are escaped, so each stays one line. */
  err(path: string, message: string): void {
    this.errors.push({ path: escapeControls(path), message: escapeControls(message) });
  }

  /** Report keys of `obj` not in `allowed`. */
  keys(path: string, obj: Record<string, unknown>, allowed: ReadonlySet<string> | readonly string[]): void {
    // The per-device key lists are sets (looked up for every key of every function); the small
    // inline lists stay arrays.
    const set = isKeySet(allowed) ? allowed : null;
    for (const k in obj) {
      if (!(set !== null ? set.has(k) : (allowed as readonly string[]).includes(k))) this.err(`${path}.${k}`, `unknown property '${k}'`);
    }
  }

  int(base: string, key: string, v: unknown, min: number, max: number): number | undefined {
    if (typeof v === 'number' && Number.isSafeInteger(v) && v >= min && v <= max) return v;
    if (typeof v !== 'number' || !Number.isSafeInteger(v)) {
      this.err(joinPath(base, key), `must be an integer, got ${describe(v)}`);
    } else {
      this.err(joinPath(base, key), `must be in ${hexOrDec(min)}..${hexOrDec(max)}, got ${hexOrDec(v)}`);
    }
    return undefined;
  }

  optInt(base: string, key: string, v: unknown, min: number, max: number): number | undefined {
    return v === undefined ? undefined : this.int(base, key, v, min, max);
  }

  str(base: string, key: string, v: unknown): string | undefined {
    if (typeof v === 'string') return v;
    this.err(joinPath(base, key), `must be a string, got ${describe(v)}`);
    return undefined;
  }

  optStr(base: string, key: string, v: unknown): string | undefined {
    return v === undefined ? undefined : this.str(base, key, v);
  }

  optBool(base: string, key: string, v: unknown): boolean | undefined {
    if (v === undefined || typeof v === 'boolean') return v;
    this.err(joinPath(base, key), `must be true or false, got ${describe(v)}`);
    return undefined;
  }

  oneOf<T extends string>(base: string, key: string, v: unknown, allowed: readonly T[], what: string): T | undefined {
    if (typeof v === 'string' && (allowed as readonly string[]).includes(v)) return v as T;
    this.err(joinPath(base, key), `unknown ${what} ${describe(v)} (expected one of ${allowed.join(', ')})`);
    return undefined;
  }

  obj(base: string, key: string, v: unknown): Record<string, unknown> | undefined {
    if (isPlainObject(v)) return v;
    this.err(joinPath(base, key), `must be an object, got ${describe(v)}`);
    return undefined;
  }

  arr(base: string, key: string, v: unknown): unknown[] | undefined {
    if (Array.isArray(v)) return v;
    this.err(joinPath(base, key), `must be an array, got ${describe(v)}`);
    return undefined;
  }
}

function hexOrDec(n: number): string {
  return n > 255 ? hexAddr(n) : String(n);
}

function checkCpu(c: Checker, path: string, v: unknown): CpuSpec | undefined {
  const o = c.obj(path, '', v);
  if (!o) return undefined;
  c.keys(path, o, ['vendor', 'family']);
  const vendor = c.oneOf(path, 'vendor', o['vendor'], CPU_VENDORS, 'CPU vendor');
  const family = c.optInt(path, 'family', o['family'], 0, 0xfff);
  if (vendor === undefined) return undefined;
  const cpu: CpuSpec = { vendor };
  if (family !== undefined) cpu.family = family;
  return cpu;
}

function checkRange(c: Checker, path: string, v: unknown): { base: number; size: number } | undefined {
  const o = c.obj(path, '', v);
  if (!o) return undefined;
  c.keys(path, o, ['base', 'size']);
  const base = c.int(path, 'base', o['base'], 0, Number.MAX_SAFE_INTEGER);
  const size = c.int(path, 'size', o['size'], 1, Number.MAX_SAFE_INTEGER);
  if (base === undefined || size === undefined) return undefined;
  return { base, size };
}

function checkHostBridge(c: Checker, path: string, v: unknown): HostBridgeSpec | undefined {
  const o = c.obj(path, '', v);
  if (!o) return undefined;
  c.keys(path, o, HB_KEYS);
  const domain = c.int(path, 'domain', o['domain'], 0, PCI_MAX_DOMAIN);
  const bus = c.int(path, 'bus', o['bus'], 0, PCI_MAX_BUS);
  const busEnd = c.optInt(path, 'busEnd', o['busEnd'], 0, PCI_MAX_BUS);
  if (bus !== undefined && busEnd !== undefined && busEnd < bus) {
    c.err(`${path}.busEnd`, `busEnd ${hex2(busEnd)} is below the root bus ${hex2(bus)}`);
  }
  let memWindow: HostBridgeSpec['memWindow'];
  if (o['memWindow'] !== undefined) {
    const wp = `${path}.memWindow`;
    const w = c.obj(wp, '', o['memWindow']);
    if (w) {
      c.keys(wp, w, ['cpuBase', 'size', 'busOffset']);
      const cpuBase = c.int(wp, 'cpuBase', w['cpuBase'], 0, Number.MAX_SAFE_INTEGER);
      const size = c.int(wp, 'size', w['size'], 1, Number.MAX_SAFE_INTEGER);
      const busOffset = c.optInt(wp, 'busOffset', w['busOffset'], -Number.MAX_SAFE_INTEGER, Number.MAX_SAFE_INTEGER);
      if (cpuBase !== undefined && size !== undefined) {
        if (busOffset !== undefined && cpuBase - busOffset < 0) {
          c.err(`${wp}.busOffset`, `bus offset ${hexAddr(busOffset)} puts the window's bus address below 0`);
        }
        memWindow = { cpuBase, size };
        if (busOffset !== undefined) memWindow.busOffset = busOffset;
      }
    }
  }
  const peerForwarding =
    o['peerForwarding'] === undefined
      ? undefined
      : c.oneOf(path, 'peerForwarding', o['peerForwarding'], PEER_FORWARDING, 'peer forwarding mode');
  const label = c.optStr(path, 'label', o['label']);
  if (domain === undefined || bus === undefined) return undefined;
  const hb: HostBridgeSpec = { domain, bus };
  if (busEnd !== undefined) hb.busEnd = busEnd;
  if (memWindow) hb.memWindow = memWindow;
  if (peerForwarding !== undefined) hb.peerForwarding = peerForwarding;
  if (label !== undefined) hb.label = label;
  return hb;
}

function checkAcsBits(c: Checker, path: string, v: unknown): AcsBitName[] | 'unknown' | undefined {
  if (v === 'unknown') return 'unknown';
  const a = Array.isArray(v) ? v : undefined;
  if (!a) {
    c.err(path, `must be an array of ACS bit names (${ACS_BIT_NAMES.join(' ')}) or 'unknown', got ${describe(v)}`);
    return undefined;
  }
  const out: AcsBitName[] = [];
  a.forEach((bit, i) => {
    const name = c.oneOf(path, `[${i}]`, bit, ACS_BIT_NAMES, 'ACS bit');
    if (name === undefined) return;
    if (out.includes(name)) c.err(`${path}[${i}]`, `ACS bit ${name} listed twice`);
    else out.push(name);
  });
  // Keep register order so equal sets compare equal.
  return ACS_BIT_NAMES.filter((b) => out.includes(b));
}

function checkAcs(c: Checker, path: string, v: unknown): AcsSpec | undefined {
  const o = c.obj(path, '', v);
  if (!o) return undefined;
  c.keys(path, o, ['cap', 'ctrl']);
  const cap = checkAcsBits(c, `${path}.cap`, o['cap']);
  const ctrl = checkAcsBits(c, `${path}.ctrl`, o['ctrl']);
  if (cap === undefined || ctrl === undefined) return undefined;
  if (Array.isArray(cap) && Array.isArray(ctrl)) {
    const extra = ctrl.filter((b) => !cap.includes(b));
    if (extra.length > 0) {
      c.err(`${path}.ctrl`, `control bits ${extra.join(' ')} are set but not in the capability (${cap.join(' ') || 'none'})`);
    }
  }
  return { cap, ctrl };
}

function checkPcie(c: Checker, path: string, v: unknown): PcieSpec | undefined {
  const o = c.obj(path, '', v);
  if (!o) return undefined;
  c.keys(path, o, PCIE_KEYS);
  const portType = c.oneOf(path, 'portType', o['portType'], PCIE_PORT_TYPES, 'port type');
  const linkGen = c.optInt(path, 'linkGen', o['linkGen'], 1, PCIE_MAX_GEN);
  const maxLinkGen = c.optInt(path, 'maxLinkGen', o['maxLinkGen'], 1, PCIE_MAX_GEN);
  const width = (key: string): number | undefined => {
    const w = o[key];
    if (w === undefined) return undefined;
    if (typeof w !== 'number' || !PCIE_LINK_WIDTHS.includes(w)) {
      c.err(`${path}.${key}`, `must be a link width (${PCIE_LINK_WIDTHS.join(', ')}), got ${describe(w)}`);
      return undefined;
    }
    return w;
  };
  const linkWidth = width('linkWidth');
  const maxLinkWidth = width('maxLinkWidth');
  let mps: number | undefined;
  if (o['mps'] !== undefined) {
    if (typeof o['mps'] !== 'number' || !PCIE_PAYLOAD_SIZES.includes(o['mps'])) {
      c.err(`${path}.mps`, `must be a max payload size (${PCIE_PAYLOAD_SIZES.join(', ')}), got ${describe(o['mps'])}`);
    } else {
      mps = o['mps'];
    }
  }
  if (linkGen !== undefined && maxLinkGen !== undefined && linkGen > maxLinkGen) {
    c.err(`${path}.linkGen`, `current link Gen${linkGen} exceeds the maximum Gen${maxLinkGen}`);
  }
  if (linkWidth !== undefined && maxLinkWidth !== undefined && linkWidth > maxLinkWidth) {
    c.err(`${path}.linkWidth`, `current link width x${linkWidth} exceeds the maximum x${maxLinkWidth}`);
  }
  if (portType === undefined) return undefined;
  const p: PcieSpec = { portType };
  if (linkGen !== undefined) p.linkGen = linkGen;
  if (linkWidth !== undefined) p.linkWidth = linkWidth;
  if (maxLinkGen !== undefined) p.maxLinkGen = maxLinkGen;
  if (maxLinkWidth !== undefined) p.maxLinkWidth = maxLinkWidth;
  if (mps !== undefined) p.mps = mps;
  return p;
}

function checkBar(c: Checker, path: string, v: unknown): BarSpec | undefined {
  const o = c.obj(path, '', v);
  if (!o) return undefined;
  c.keys(path, o, BAR_KEYS);
  let ok = true;
  let index: number | undefined;
  if (typeof o['index'] === 'number' && Number.isSafeInteger(o['index']) && o['index'] >= PCI_NUM_BARS) {
    c.err(`${path}.index`, `BAR index ${o['index']} is out of range 0-${PCI_NUM_BARS - 1}`);
    ok = false;
  } else {
    index = c.int(path, 'index', o['index'], 0, PCI_NUM_BARS - 1);
  }
  const kind = c.oneOf(path, 'kind', o['kind'], ['mem', 'io'] as const, 'BAR kind');
  const prefetchable = c.optBool(path, 'prefetchable', o['prefetchable']);
  const is64 = c.optBool(path, 'is64', o['is64']);
  let size: number | undefined;
  if (typeof o['size'] !== 'number' || !Number.isSafeInteger(o['size']) || o['size'] <= 0) {
    c.err(`${path}.size`, `must be a positive integer, got ${describe(o['size'])}`);
  } else if (!isPowerOfTwo(o['size'])) {
    c.err(`${path}.size`, `must be a power of two, got ${hexAddr(o['size'])}`);
  } else {
    size = o['size'];
    const min = kind === 'io' ? PCI_MIN_IO_BAR : PCI_MIN_MEM_BAR;
    if (kind !== undefined && size < min) {
      c.err(`${path}.size`, `${kind === 'io' ? 'an I/O' : 'a memory'} BAR is at least ${min} bytes, got ${size}`);
      size = undefined;
    }
  }
  if (kind === 'io' && (prefetchable || is64)) {
    c.err(path, 'an I/O BAR cannot be prefetchable or 64-bit');
    ok = false;
  }
  if (is64 && index === PCI_NUM_BARS - 1) {
    c.err(`${path}.is64`, `a 64-bit BAR cannot be at index ${index}: its upper half would need index ${index + 1}`);
    ok = false;
  }
  let address: number | undefined;
  if (o['address'] !== undefined) {
    address = c.int(path, 'address', o['address'], 0, Number.MAX_SAFE_INTEGER);
    if (address !== undefined && size !== undefined && address % size !== 0) {
      c.err(`${path}.address`, `address ${hexAddr(address)} is not aligned to the BAR size ${hexAddr(size)}`);
      ok = false;
    }
    if (address !== undefined && is64 !== true && kind === 'mem' && size !== undefined && address + size > 0x1_0000_0000) {
      c.err(`${path}.address`, `a 32-bit BAR cannot be placed at ${hexAddr(address)} (above 4 GiB)`);
      ok = false;
    }
  }
  if (!ok || index === undefined || kind === undefined || size === undefined) return undefined;
  const bar: BarSpec = { index, size, kind };
  if (prefetchable !== undefined) bar.prefetchable = prefetchable;
  if (is64 !== undefined) bar.is64 = is64;
  if (address !== undefined) bar.address = address;
  return bar;
}

function checkP2pmem(c: Checker, path: string, v: unknown): P2pmemSpec | undefined {
  const o = c.obj(path, '', v);
  if (!o) return undefined;
  c.keys(path, o, ['bar', 'size', 'offset']);
  const bar = c.int(path, 'bar', o['bar'], 0, PCI_NUM_BARS - 1);
  const size = c.optInt(path, 'size', o['size'], 0, Number.MAX_SAFE_INTEGER);
  const offset = c.optInt(path, 'offset', o['offset'], 0, Number.MAX_SAFE_INTEGER);
  if (bar === undefined) return undefined;
  const p: P2pmemSpec = { bar };
  if (size !== undefined) p.size = size;
  if (offset !== undefined) p.offset = offset;
  return p;
}

function checkNvme(c: Checker, path: string, v: unknown): NvmeSpec | undefined {
  const o = c.obj(path, '', v);
  if (!o) return undefined;
  c.keys(path, o, ['cmb']);
  const out: NvmeSpec = {};
  if (o['cmb'] === undefined) return out;
  const cp = `${path}.cmb`;
  const cmb = c.obj(cp, '', o['cmb']);
  if (!cmb) return undefined;
  c.keys(cp, cmb, ['bar', 'size', 'offset', 'flags']);
  const bar = c.int(cp, 'bar', cmb['bar'], 0, PCI_NUM_BARS - 1);
  const size = c.int(cp, 'size', cmb['size'], 1, Number.MAX_SAFE_INTEGER);
  const offset = c.optInt(cp, 'offset', cmb['offset'], 0, Number.MAX_SAFE_INTEGER);
  const flagsIn = c.arr(cp, 'flags', cmb['flags']);
  const flags: Array<'SQS' | 'CQS' | 'LISTS' | 'RDS' | 'WDS'> = [];
  flagsIn?.forEach((f, i) => {
    const name = c.oneOf(cp, `.flags[${i}]`, f, NVME_CMB_FLAGS, 'CMB flag');
    if (name !== undefined && !flags.includes(name as (typeof flags)[number])) flags.push(name as (typeof flags)[number]);
  });
  if (bar === undefined || size === undefined || flagsIn === undefined) return undefined;
  out.cmb = { bar, size, flags };
  if (offset !== undefined) out.cmb.offset = offset;
  return out;
}

/** A device that passed shape checks, with where it came from. */
interface CheckedDevice {
  index: number;
  spec: DeviceSpec;
  addr: Bdf;
}

function checkDevice(c: Checker, path: string, v: unknown, index: number): CheckedDevice | undefined {
  const o = c.obj(path, '', v);
  if (!o) return undefined;
  c.keys(path, o, DEVICE_KEYS);
  let addr: Bdf | null = null;
  if (typeof o['bdf'] !== 'string') c.err(`${path}.bdf`, `must be a BDF string, got ${describe(o['bdf'])}`);
  else {
    addr = parseBdf(o['bdf']);
    if (!addr) c.err(`${path}.bdf`, `invalid BDF '${o['bdf']}' (expected dddd:bb:dd.f)`);
  }
  const d: DeviceSpec = { bdf: addr ? formatBdf(addr) : '' };
  const u16 = (key: 'vendor' | 'device' | 'subsystemVendor' | 'subsystemDevice'): void => {
    const n = c.optInt(path, key, o[key], 0, 0xffff);
    if (n !== undefined) d[key] = n;
  };
  u16('vendor');
  u16('device');
  u16('subsystemVendor');
  u16('subsystemDevice');
  const classCode = c.optInt(path, 'classCode', o['classCode'], 0, 0xffffff);
  if (classCode !== undefined) d.classCode = classCode;
  const revision = c.optInt(path, 'revision', o['revision'], 0, 0xff);
  if (revision !== undefined) d.revision = revision;
  const label = c.optStr(path, 'label', o['label']);
  if (label !== undefined) d.label = label;
  if (o['headerType'] !== undefined) {
    if (o['headerType'] !== 0 && o['headerType'] !== 1) {
      c.err(`${path}.headerType`, `must be 0 (endpoint) or 1 (bridge), got ${describe(o['headerType'])}`);
    } else d.headerType = o['headerType'];
  }
  const sec = c.optInt(path, 'secondaryBus', o['secondaryBus'], 0, PCI_MAX_BUS);
  const sub = c.optInt(path, 'subordinateBus', o['subordinateBus'], 0, PCI_MAX_BUS);
  if (sec !== undefined) d.secondaryBus = sec;
  if (sub !== undefined) d.subordinateBus = sub;
  const isBridge = d.headerType === 1 || (d.headerType === undefined && o['secondaryBus'] !== undefined);
  if (isBridge) {
    if (o['secondaryBus'] === undefined) c.err(`${path}.secondaryBus`, 'a bridge (headerType 1) needs a secondary bus');
    if (o['subordinateBus'] === undefined) c.err(`${path}.subordinateBus`, 'a bridge needs a subordinate bus');
  } else if (o['secondaryBus'] !== undefined || o['subordinateBus'] !== undefined) {
    c.err(
      `${path}.${o['secondaryBus'] !== undefined ? 'secondaryBus' : 'subordinateBus'}`,
      'only a bridge (headerType 1) has bus numbers',
    );
  }
  if (sec !== undefined && sub !== undefined && sub < sec) {
    c.err(`${path}.subordinateBus`, `subordinate bus ${hex2(sub)} is below the secondary bus ${hex2(sec)}`);
  }
  if (addr && sec !== undefined && sec <= addr.bus) {
    c.err(`${path}.secondaryBus`, `secondary bus ${hex2(sec)} must be above the bridge's own (primary) bus ${hex2(addr.bus)}`);
  }
  if (o['pcie'] !== undefined) {
    const p = checkPcie(c, `${path}.pcie`, o['pcie']);
    if (p) d.pcie = p;
  }
  if (o['acs'] !== undefined) {
    const a = checkAcs(c, `${path}.acs`, o['acs']);
    if (a) d.acs = a;
  }
  if (o['bars'] !== undefined) {
    const bars = c.arr(path, 'bars', o['bars']);
    if (bars) {
      d.bars = [];
      const used = new Map<number, number>();
      bars.forEach((b, j) => {
        const bp = `${path}.bars[${j}]`;
        const bar = checkBar(c, bp, b);
        if (!bar) return;
        const slots = bar.is64 ? [bar.index, bar.index + 1] : [bar.index];
        for (const s of slots) {
          const other = used.get(s);
          if (other !== undefined) {
            c.err(`${bp}.index`, `BAR ${bar.index} overlaps BAR slot ${s} already used by ${path}.bars[${other}]`);
            return;
          }
        }
        for (const s of slots) used.set(s, j);
        d.bars!.push(bar);
      });
    }
  }
  if (o['physfn'] !== undefined) {
    if (typeof o['physfn'] !== 'string' || !parseBdf(o['physfn'])) {
      c.err(`${path}.physfn`, `invalid BDF ${describe(o['physfn'])} (expected dddd:bb:dd.f)`);
    } else d.physfn = formatBdf(parseBdf(o['physfn'])!);
  }
  const driver = c.optStr(path, 'driver', o['driver']);
  if (driver !== undefined) d.driver = driver;
  if (o['role'] !== undefined) {
    const role = c.oneOf(path, 'role', o['role'], DEVICE_ROLES, 'device role');
    if (role) d.role = role;
  }
  if (o['p2pmem'] !== undefined) {
    const p = checkP2pmem(c, `${path}.p2pmem`, o['p2pmem']);
    if (p) {
      d.p2pmem = p;
      checkBarRegion(c, `${path}.p2pmem`, d, p.bar, p.offset ?? 0, p.size ?? 0, 'p2pmem');
    }
  }
  if (o['nvme'] !== undefined) {
    const n = checkNvme(c, `${path}.nvme`, o['nvme']);
    if (n) {
      d.nvme = n;
      if (n.cmb) checkBarRegion(c, `${path}.nvme.cmb`, d, n.cmb.bar, n.cmb.offset ?? 0, n.cmb.size, 'CMB');
    }
  }
  if (!addr) return undefined;
  return { index, spec: d, addr };
}

/** A p2pmem or CMB region must lie inside one of the device's memory BARs. */
function checkBarRegion(c: Checker, path: string, d: DeviceSpec, bar: number, offset: number, size: number, what: string): void {
  const b = d.bars?.find((x) => x.index === bar);
  if (!b) {
    c.err(`${path}.bar`, `${what} is in BAR ${bar}, which the device does not have`);
    return;
  }
  if (b.kind !== 'mem') {
    c.err(`${path}.bar`, `${what} is in BAR ${bar}, which is an I/O BAR`);
    return;
  }
  if (offset >= b.size) {
    c.err(`${path}.offset`, `${what} offset ${hexAddr(offset)} is beyond BAR ${bar} (${hexAddr(b.size)} bytes)`);
  } else if (offset + size > b.size) {
    c.err(`${path}.size`, `${what} [offset ${hexAddr(offset)}, ${hexAddr(size)} bytes] does not fit in BAR ${bar} (${hexAddr(b.size)} bytes)`);
  }
}

// ---------------------------------------------------------------------------------------------
// The tree the bus numbers describe
// ---------------------------------------------------------------------------------------------

/** Where a function hangs: below a bridge (its secondary bus) or on a host bridge's root bus. */
export type TreeParent = { kind: 'bridge'; bdf: string } | { kind: 'host-bridge'; index: number };

/** A bus that more than one provider claims. */
export interface BusConflict {
  domain: number;
  bus: number;
  /** Bridges (BDFs) whose secondary bus or range includes it. */
  bridges: string[];
  /** A host bridge whose root bus it is, if any. */
  hostBridge?: number;
}

/**
 * The tree a topology's bus numbers describe. Bus numbers, not nesting, define it, as in a
 * real machine: a function hangs below the bridge whose secondary bus is the function's bus,
 * or on the host bridge whose root bus it is.
 */
export interface TopologyTree {
  /** Each connected function's parent, by normalized BDF. */
  readonly parentOf: ReadonlyMap<string, TreeParent>;
  /** Each bridge's children, in devfn order (bridges without children map to an empty list). */
  readonly childrenOf: ReadonlyMap<string, readonly string[]>;
  /** The functions on each host bridge's root bus, by host bridge index, in devfn order. */
  readonly rootDevices: readonly (readonly string[])[];
  /** The host bridge (index) each function is ultimately below, for functions reachable from one. */
  readonly hostBridgeOf: ReadonlyMap<string, number>;
  /** Index in `spec.devices` of each function, by normalized BDF (first occurrence). */
  readonly indexOf: ReadonlyMap<string, number>;
  /** Functions whose bus neither a bridge nor a host bridge provides. */
  readonly orphans: readonly string[];
  /** Buses claimed by more than one provider. */
  readonly busConflicts: readonly BusConflict[];
  /** Bus-number cycles: the BDFs around each loop, the first repeated at the end. */
  readonly cycles: readonly (readonly string[])[];
}

/** A numeric key for a (domain, bus) pair. */
function busKey(domain: number, bus: number): number {
  return domain * 256 + bus;
}

interface TreeNode {
  bdf: string;
  addr: Bdf;
  index: number;
  sec?: number | undefined;
  sub?: number | undefined;
  /** Working state of the derivation. */
  parent?: TreeNode;
  kids?: TreeNode[];
  hb?: number;
  mark?: 'active' | 'done';
  asParent?: TreeParent;
}

/**
 * Derive the tree from a topology's bus numbers.
 *
 * Works on any spec, valid or not (unparsable BDFs are skipped); validation uses the conflicts,
 * orphans and cycles it reports, and enumeration uses the parent/children maps of a valid one.
 * @param spec the topology; not modified.
 * @returns parents, children in devfn order, root devices per host bridge, and the problems found.
 *   The caller owns the result.
 * @kernel pci_scan_child_bus, pci_scan_bridge (the bus-to-bridge relation they build)
 */
export function deriveTree(spec: TopologySpec): TopologyTree {
  const nodes: TreeNode[] = [];
  const indexOf = new Map<string, number>();
  spec.devices.forEach((d, index) => {
    const addr = typeof d.bdf === 'string' ? parseBdf(d.bdf) : null;
    if (!addr) return;
    const bdf = formatBdf(addr);
    if (indexOf.has(bdf)) return;
    indexOf.set(bdf, index);
    const n: TreeNode = { bdf, addr, index };
    if (typeof d.secondaryBus === 'number') n.sec = d.secondaryBus;
    if (typeof d.subordinateBus === 'number') n.sub = d.subordinateBus;
    nodes.push(n);
  });
  const a = analyzeTree(nodes, spec.hostBridges);

  // The public, BDF-keyed view. Parent descriptors are shared between siblings.
  const hbParents: TreeParent[] = spec.hostBridges.map((_, index) => ({ kind: 'host-bridge', index }));
  const parentOf = new Map<string, TreeParent>();
  const childrenOf = new Map<string, string[]>();
  const hostBridgeOf = new Map<string, number>();
  for (const n of a.sortedNodes) {
    if (n.parent) {
      n.parent.asParent ??= { kind: 'bridge', bdf: n.parent.bdf };
      parentOf.set(n.bdf, n.parent.asParent);
    }
    if (n.kids) childrenOf.set(n.bdf, n.kids.map((k) => k.bdf));
    if (n.hb !== undefined) hostBridgeOf.set(n.bdf, n.hb);
  }
  a.rootNodes.forEach((roots, i) => {
    for (const n of roots) parentOf.set(n.bdf, hbParents[i]!);
  });
  const rootDevices = a.rootNodes.map((roots) => roots.map((n) => n.bdf));
  const orphans = a.orphans.map((n) => n.bdf);
  return { parentOf, childrenOf, rootDevices, hostBridgeOf, indexOf, orphans, busConflicts: a.busConflicts, cycles: a.cycles };
}

/** What {@link analyzeTree} finds; the tree itself is in the nodes' `parent`, `kids` and `hb`. */
interface TreeAnalysis {
  sortedNodes: TreeNode[];
  rootNodes: TreeNode[][];
  orphans: TreeNode[];
  busConflicts: BusConflict[];
  cycles: string[][];
}

/** The derivation proper, on parsed, de-duplicated functions; links the nodes in place. */
function analyzeTree(nodes: TreeNode[], hostBridges: readonly HostBridgeSpec[]): TreeAnalysis {
  // Root buses: (domain, bus) → host bridge index (first wins).
  const rootBus = new Map<number, number>();
  hostBridges.forEach((hb, i) => {
    const key = busKey(hb.domain, hb.bus);
    if (!rootBus.has(key)) rootBus.set(key, i);
  });

  // Secondary buses: (domain, bus) → bridges claiming it; and bridges by the bus they sit on.
  const claims = new Map<number, TreeNode[]>();
  const byParentBus = new Map<number, TreeNode[]>();
  for (const n of nodes) {
    if (n.sec === undefined) continue;
    n.kids = [];
    const key = busKey(n.addr.domain, n.sec);
    const list = claims.get(key);
    if (list) list.push(n);
    else claims.set(key, [n]);
    const pkey = busKey(n.addr.domain, n.addr.bus);
    const siblings = byParentBus.get(pkey);
    if (siblings) siblings.push(n);
    else byParentBus.set(pkey, [n]);
  }

  const busConflicts: BusConflict[] = [];
  for (const [key, list] of claims) {
    const hbIndex = rootBus.get(key);
    if (list.length > 1 || hbIndex !== undefined) {
      const first = list[0]!;
      const conflict: BusConflict = { domain: first.addr.domain, bus: first.sec!, bridges: list.map((n) => n.bdf) };
      if (hbIndex !== undefined) conflict.hostBridge = hbIndex;
      busConflicts.push(conflict);
    }
  }
  // Sibling bridges whose ranges overlap without sharing a secondary bus.
  for (const list of byParentBus.values()) {
    if (list.length < 2) continue;
    const sorted = [...list].sort((a, b) => a.sec! - b.sec!);
    let widest = sorted[0]!;
    for (let i = 1; i < sorted.length; i++) {
      const n = sorted[i]!;
      const end = widest.sub ?? widest.sec!;
      if (n.sec! !== widest.sec && n.sec! <= end) {
        busConflicts.push({ domain: n.addr.domain, bus: n.sec!, bridges: [widest.bdf, n.bdf] });
      }
      if ((n.sub ?? n.sec!) > end) widest = n;
    }
  }

  // Parents. Functions are visited in BDF order, so each child list comes out in devfn order.
  const rootNodes: TreeNode[][] = hostBridges.map(() => []);
  const orphans: TreeNode[] = [];
  const sortedNodes = [...nodes].sort((a, b) => compareBdf(a.addr, b.addr));
  for (const n of sortedNodes) {
    const key = busKey(n.addr.domain, n.addr.bus);
    const hbIndex = rootBus.get(key);
    if (hbIndex !== undefined) {
      rootNodes[hbIndex]!.push(n);
      continue;
    }
    const provider = claims.get(key)?.[0];
    if (provider) {
      n.parent = provider;
      provider.kids!.push(n);
      continue;
    }
    orphans.push(n);
  }

  // Walk down from each host bridge; whatever is not reached is an orphan's subtree or a cycle.
  rootNodes.forEach((roots, hbIndex) => {
    const stack = [...roots];
    while (stack.length > 0) {
      const n = stack.pop()!;
      if (n.hb !== undefined) continue;
      n.hb = hbIndex;
      if (n.kids) for (const k of n.kids) stack.push(k);
    }
  });

  const cycles: string[][] = [];
  for (const n of sortedNodes) {
    if (n.hb !== undefined || n.mark !== undefined) continue;
    const path: TreeNode[] = [];
    let cur: TreeNode | undefined = n;
    while (cur !== undefined && cur.mark === undefined && cur.hb === undefined) {
      cur.mark = 'active';
      path.push(cur);
      cur = cur.parent;
    }
    if (cur !== undefined && cur.mark === 'active') {
      // Report the loop in child direction (each bridge's secondary bus holds the next one),
      // starting at its lowest BDF and closing on it.
      const loop = path
        .slice(path.indexOf(cur))
        .reverse()
        .map((x) => x.bdf);
      let low = 0;
      for (let i = 1; i < loop.length; i++) if (loop[i]! < loop[low]!) low = i;
      const rotated = [...loop.slice(low), ...loop.slice(0, low)];
      rotated.push(rotated[0]!);
      cycles.push(rotated);
    }
    for (const x of path) x.mark = 'done';
  }

  return { sortedNodes, rootNodes, orphans, busConflicts, cycles };
}

// ---------------------------------------------------------------------------------------------
// Whole-topology validation
// ---------------------------------------------------------------------------------------------

/**
 * Validate a topology description, as read from JSON or built in code.
 *
 * Checks every field's type and range, then the structure: duplicate BDFs; host bridges with
 * overlapping bus ranges or memory windows (or windows overlapping System RAM); bridges whose
 * secondary bus is not above their own bus or whose subordinate is below their secondary; a bus
 * claimed by two bridges; bridge ranges not nested in their parent's; bus-number cycles;
 * functions on a bus nobody provides; BAR sizes (powers of two), indexes (0-5, a 64-bit BAR not
 * at 5, no two BARs in one slot); fixed BAR addresses aligned to their size, inside the host
 * bridge's window when one is given, and not overlapping each other; p2pmem and CMB regions
 * inside a memory BAR; `physfn` naming a listed physical function.
 * @param value anything (typically `JSON.parse` output); not modified.
 * @returns `{ ok: true, spec }` with a fresh normalized copy (BDFs as `dddd:bb:dd.f`), or
 *   `{ ok: false, errors }` with every error found, each with its JSON path and reason.
 */
export function validateTopologySpec(value: unknown): TopologyResult {
  const c = new Checker();
  const top = c.obj('$', '', value);
  if (!top) return { ok: false, errors: c.errors };
  c.keys('$', top, TOP_KEYS);
  if (top['schema'] !== TOPOLOGY_SCHEMA_V1) {
    c.err('$.schema', `must be '${TOPOLOGY_SCHEMA_V1}', got ${describe(top['schema'])}`);
  }
  const out: TopologySpec = { schema: TOPOLOGY_SCHEMA_V1, hostBridges: [], devices: [] };
  const name = c.optStr('$', 'name', top['name']);
  if (name !== undefined) out.name = name;
  const description = c.optStr('$', 'description', top['description']);
  if (description !== undefined) out.description = description;
  if (top['cpu'] !== undefined) {
    const cpu = checkCpu(c, '$.cpu', top['cpu']);
    if (cpu) out.cpu = cpu;
  }
  const iommu = c.optBool('$', 'iommu', top['iommu']);
  if (iommu !== undefined) out.iommu = iommu;

  // System RAM ranges must not overlap one another.
  let ram: Array<{ base: number; size: number }> = DEFAULT_SYSTEM_RAM.map((r) => ({ ...r }));
  if (top['systemRam'] !== undefined) {
    const list = c.arr('$', 'systemRam', top['systemRam']);
    if (list) {
      out.systemRam = [];
      list.forEach((r, i) => {
        const range = checkRange(c, `$.systemRam[${i}]`, r);
        if (range) out.systemRam!.push(range);
      });
      ram = out.systemRam;
      const sorted = ram.map((r, i) => ({ ...r, i })).sort((a, b) => a.base - b.base);
      for (let i = 1; i < sorted.length; i++) {
        const a = sorted[i - 1]!;
        const b = sorted[i]!;
        if (b.base < a.base + a.size) {
          c.err(`$.systemRam[${b.i}]`, `System RAM ${rangeText(b.base, b.size)} overlaps ${rangeText(a.base, a.size)} ($.systemRam[${a.i}])`);
        }
      }
    }
  }
  if (top['warnings'] !== undefined) {
    const w = c.arr('$', 'warnings', top['warnings']);
    if (w) {
      out.warnings = [];
      w.forEach((s, i) => {
        const t = c.str('$.warnings', `[${i}]`, s);
        if (t !== undefined) out.warnings!.push(t);
      });
    }
  }

  // Host bridges.
  const hbList = c.arr('$', 'hostBridges', top['hostBridges']);
  const hbPaths: number[] = [];
  if (hbList) {
    if (hbList.length === 0) c.err('$.hostBridges', 'must list at least one host bridge');
    hbList.forEach((h, i) => {
      const hb = checkHostBridge(c, `$.hostBridges[${i}]`, h);
      if (hb) {
        out.hostBridges.push(hb);
        hbPaths.push(i);
      }
    });
  }
  const hbPath = (k: number): string => `$.hostBridges[${hbPaths[k]}]`;
  const hbEnd = (hb: HostBridgeSpec): number => hb.busEnd ?? PCI_MAX_BUS;
  // Host bridge bus ranges within a domain must be disjoint; windows must be disjoint and clear of RAM.
  const hbOrder = out.hostBridges.map((hb, k) => ({ hb, k })).sort((a, b) => a.hb.domain - b.hb.domain || a.hb.bus - b.hb.bus);
  for (let i = 1; i < hbOrder.length; i++) {
    const a = hbOrder[i - 1]!;
    const b = hbOrder[i]!;
    if (a.hb.domain !== b.hb.domain) continue;
    if (a.hb.bus === b.hb.bus) {
      c.err(hbPath(b.k), `duplicate host bridge for bus ${formatBus(b.hb.domain, b.hb.bus)} (also ${hbPath(a.k)})`);
    } else if (b.hb.bus <= hbEnd(a.hb)) {
      c.err(
        `${hbPath(a.k)}.busEnd`,
        `bus range ${hex2(a.hb.bus)}-${hex2(hbEnd(a.hb))} of domain ${hexDomain(a.hb.domain)} overlaps the root bus ${hex2(b.hb.bus)} of ${hbPath(b.k)}`,
      );
    }
  }
  const windows = out.hostBridges
    .map((hb, k) => ({ w: hb.memWindow, k }))
    .filter((x): x is { w: NonNullable<HostBridgeSpec['memWindow']>; k: number } => x.w !== undefined)
    .sort((a, b) => a.w.cpuBase - b.w.cpuBase);
  for (let i = 1; i < windows.length; i++) {
    const a = windows[i - 1]!;
    const b = windows[i]!;
    if (b.w.cpuBase < a.w.cpuBase + a.w.size) {
      c.err(`${hbPath(b.k)}.memWindow`, `memory window ${rangeText(b.w.cpuBase, b.w.size)} overlaps the window of ${hbPath(a.k)} ${rangeText(a.w.cpuBase, a.w.size)}`);
    }
  }
  for (const { w, k } of windows) {
    for (const r of ram) {
      if (w.cpuBase < r.base + r.size && r.base < w.cpuBase + w.size) {
        c.err(`${hbPath(k)}.memWindow`, `memory window ${rangeText(w.cpuBase, w.size)} overlaps System RAM ${rangeText(r.base, r.size)}`);
      }
    }
  }

  // Devices: shape first. Duplicates are found by numeric address (no string hashing).
  const devList = c.arr('$', 'devices', top['devices']);
  const checked: CheckedDevice[] = [];
  const checkedAt: CheckedDevice[] = [];
  const firstAt = new Map<number, number>();
  devList?.forEach((d, i) => {
    const cd = checkDevice(c, `$.devices[${i}]`, d, i);
    if (!cd) return;
    const key = bdfKey(cd.addr);
    const prev = firstAt.get(key);
    if (prev !== undefined) {
      c.err(`$.devices[${i}].bdf`, `duplicate BDF ${cd.spec.bdf} (also $.devices[${prev}])`);
      return;
    }
    firstAt.set(key, i);
    checked.push(cd);
    checkedAt[i] = cd;
  });
  const lookup = (bdf: string): CheckedDevice | undefined => {
    const addr = parseBdf(bdf);
    const i = addr ? firstAt.get(bdfKey(addr)) : undefined;
    return i === undefined ? undefined : checkedAt[i];
  };
  const devPath = (bdf: string): string => `$.devices[${lookup(bdf)?.index ?? '?'}]`;

  // physfn references.
  for (const d of checked) {
    const pf = d.spec.physfn;
    if (pf === undefined) continue;
    const p = `$.devices[${d.index}].physfn`;
    const target = lookup(pf);
    if (pf === d.spec.bdf) c.err(p, `a function cannot be its own physfn`);
    else if (!target) c.err(p, `physfn ${pf} is not in devices`);
    else if (target.spec.physfn !== undefined) c.err(p, `physfn ${pf} is itself a virtual function`);
    else if (target.addr.domain !== d.addr.domain) c.err(p, `physfn ${pf} is in another PCI domain`);
  }

  // The tree: derive it on the shape-valid devices and report its problems.
  const nodes: TreeNode[] = checked.map((d) => ({
    bdf: d.spec.bdf,
    addr: d.addr,
    index: d.index,
    sec: d.spec.secondaryBus,
    sub: d.spec.subordinateBus,
  }));
  const tree = analyzeTree(nodes, out.hostBridges);
  for (const conflict of tree.busConflicts) {
    const who = conflict.bridges.join(' and ');
    const msg =
      conflict.hostBridge !== undefined
        ? `bus 0x${hex2(conflict.bus)} is the root bus of $.hostBridges[${hbPaths[conflict.hostBridge]}] but is claimed by bridge${conflict.bridges.length > 1 ? 's' : ''} ${who}`
        : `bus 0x${hex2(conflict.bus)} is claimed by bridges ${who}`;
    c.err(`${devPath(conflict.bridges[conflict.bridges.length - 1]!)}.secondaryBus`, msg);
  }
  for (const cycle of tree.cycles) {
    c.err(`${devPath(cycle[0]!)}.secondaryBus`, `bus-number cycle: ${cycle.join(' → ')}`);
  }
  for (const n of tree.orphans) {
    const covered = out.hostBridges.some((hb) => hb.domain === n.addr.domain && n.addr.bus >= hb.bus && n.addr.bus <= hbEnd(hb));
    c.err(
      `$.devices[${n.index}].bdf`,
      covered
        ? `device ${n.bdf} is on bus ${hex2(n.addr.bus)}, which no bridge or host bridge provides`
        : `device ${n.bdf} is on bus ${hex2(n.addr.bus)}, which no bridge or host bridge provides (no host bridge covers bus ${formatBus(n.addr.domain, n.addr.bus)})`,
    );
  }
  // Nesting: a bridge's range lies inside its parent's (bridge or host bridge).
  for (const n of nodes) {
    const { sec, sub } = n;
    if (sec === undefined || sub === undefined) continue;
    const p = `$.devices[${n.index}].subordinateBus`;
    if (n.parent) {
      const ps = n.parent.sec;
      const pe = n.parent.sub;
      if (ps === undefined || pe === undefined) continue;
      if (sec <= ps || sub > pe) {
        c.err(p, `bus range ${hex2(sec)}-${hex2(sub)} of bridge ${n.bdf} is not nested in the range ${hex2(ps)}-${hex2(pe)} of its parent ${n.parent.bdf}`);
      }
    } else if (n.hb !== undefined) {
      const hb = out.hostBridges[n.hb]!;
      if (sub > hbEnd(hb)) {
        c.err(p, `bus range ${hex2(sec)}-${hex2(sub)} of bridge ${n.bdf} is not nested in the range ${hex2(hb.bus)}-${hex2(hbEnd(hb))} of its host bridge ${hbPath(n.hb)}`);
      }
    }
  }
  const hbOfIndex: Array<number | undefined> = [];
  for (const n of nodes) hbOfIndex[n.index] = n.hb;

  // Fixed BAR addresses: inside the host bridge window when one is given, no overlaps.
  interface Placed {
    start: number;
    end: number;
    bar: number;
    bdf: string;
    path: string;
    /** Position in the input, to name the pair in input order. */
    order: number;
  }
  const placed: { mem: Placed[]; io: Placed[] } = { mem: [], io: [] };
  for (const d of checked) {
    d.spec.bars?.forEach((bar, j) => {
      if (bar.address === undefined) return;
      const path = `$.devices[${d.index}].bars[${j}].address`;
      const end = bar.address + bar.size - 1;
      placed[bar.kind].push({ start: bar.address, end, bar: bar.index, bdf: d.spec.bdf, path, order: d.index * PCI_NUM_BARS + bar.index });
      const hbIndex = hbOfIndex[d.index];
      const w = hbIndex === undefined ? undefined : out.hostBridges[hbIndex]!.memWindow;
      if (bar.kind === 'mem' && w && (bar.address < w.cpuBase || end > w.cpuBase + w.size - 1)) {
        c.err(path, `BAR ${bar.index} of ${d.spec.bdf} [${hexAddr(bar.address)}-${hexAddr(end)}] is outside the memory window ${rangeText(w.cpuBase, w.size)} of its host bridge`);
      }
      if (bar.kind === 'mem') {
        for (const r of ram) {
          if (bar.address <= r.base + r.size - 1 && r.base <= end) {
            c.err(path, `BAR ${bar.index} of ${d.spec.bdf} [${hexAddr(bar.address)}-${hexAddr(end)}] overlaps System RAM ${rangeText(r.base, r.size)}`);
          }
        }
      }
    });
  }
  for (const list of [placed.mem, placed.io]) {
    list.sort((a, b) => a.start - b.start);
    let reach: Placed | undefined;
    for (const x of list) {
      if (reach && x.start <= reach.end) {
        const [a, b] = reach.order < x.order ? [reach, x] : [x, reach];
        c.err(b.path, `BAR ${a.bar} of ${a.bdf} [${hexAddr(a.start)}-${hexAddr(a.end)}] overlaps BAR ${b.bar} of ${b.bdf} [${hexAddr(b.start)}-${hexAddr(b.end)}]`);
      }
      if (!reach || x.end > reach.end) reach = x;
    }
  }

  if (c.errors.length > 0) return { ok: false, errors: c.errors };
  out.devices = checked.map((d) => d.spec);
  return { ok: true, spec: out };
}

function rangeText(base: number, size: number): string {
  return `[${hexAddr(base)}-${hexAddr(base + size - 1)}]`;
}

// ---------------------------------------------------------------------------------------------
// JSON text input
// ---------------------------------------------------------------------------------------------

/** 1-based line and column of a character offset. */
function lineColumn(text: string, offset: number): { line: number; column: number } {
  let line = 1;
  let lineStart = 0;
  let i = text.indexOf('\n');
  while (i !== -1 && i < offset) {
    line++;
    lineStart = i + 1;
    i = text.indexOf('\n', lineStart);
  }
  return { line, column: offset - lineStart + 1 };
}

/** Thrown inside {@link locateJsonError} to unwind to the first syntax error. */
interface JsonSyntaxFault {
  offset: number;
  reason: string;
}

const JSON_NUMBER_RE = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const JSON_ESCAPES = '"\\/bfnrtu';

/**
 * Find the first JSON syntax error and describe it (JSON.parse messages vary between Node
 * versions and do not always give a position). Only called after JSON.parse has failed.
 * @returns the offset and reason, or null if the scanner finds no error.
 */
function locateJsonError(text: string): JsonSyntaxFault | null {
  let i = 0;
  const fail = (reason: string): never => {
    throw { offset: i, reason } satisfies JsonSyntaxFault;
  };
  const what = (): string => (i >= text.length ? 'end of input' : `'${text[i]}'`);
  const ws = (): void => {
    while (i < text.length) {
      const c = text.charCodeAt(i);
      if (c !== 32 && c !== 9 && c !== 10 && c !== 13) break;
      i++;
    }
  };
  const string = (): void => {
    i++;
    for (;;) {
      if (i >= text.length) fail('unterminated string');
      const c = text.charCodeAt(i);
      if (c === 34) {
        i++;
        return;
      }
      if (c === 92) {
        const e = text[i + 1];
        if (e === undefined || !JSON_ESCAPES.includes(e)) {
          i++;
          fail(`bad escape ${e === undefined ? 'at end of input' : `'\\${e}'`} in string`);
        }
        if (e === 'u' && !/^[0-9a-fA-F]{4}$/.test(text.slice(i + 2, i + 6))) {
          i += 2;
          fail('bad \\u escape in string');
        }
        i += e === 'u' ? 6 : 2;
        continue;
      }
      if (c < 0x20) fail('control character in string');
      i++;
    }
  };
  const key = (): void => {
    ws();
    if (text[i] !== '"') fail(`expected a property name, found ${what()}`);
    string();
    ws();
    if (text[i] !== ':') fail(`expected ':' after a property name, found ${what()}`);
    i++;
  };
  const scalar = (): void => {
    if (text[i] === '"') {
      string();
      return;
    }
    for (const lit of ['true', 'false', 'null']) {
      if (text.startsWith(lit, i)) {
        i += lit.length;
        return;
      }
    }
    JSON_NUMBER_RE.lastIndex = i;
    if (JSON_NUMBER_RE.test(text)) {
      i = JSON_NUMBER_RE.lastIndex;
      return;
    }
    fail(`unexpected ${what()}`);
  };
  // Iterative, with an explicit stack of open containers: hostile input may nest far deeper
  // than the call stack allows.
  const value = (): void => {
    const open: Array<'{' | '['> = [];
    for (;;) {
      ws();
      const ch = text[i];
      if (ch === '{' || ch === '[') {
        i++;
        ws();
        if (text[i] !== (ch === '{' ? '}' : ']')) {
          open.push(ch);
          if (ch === '{') key();
          continue;
        }
        i++;
      } else scalar();
      // A value ended: close containers until one continues with ','.
      for (;;) {
        const top = open[open.length - 1];
        if (top === undefined) return;
        ws();
        if (text[i] === ',') {
          i++;
          if (top === '{') key();
          break;
        }
        if (text[i] === (top === '{' ? '}' : ']')) {
          i++;
          open.pop();
          continue;
        }
        fail(top === '{' ? `expected ',' or '}' after a property value, found ${what()}` : `expected ',' or ']' after an array element, found ${what()}`);
      }
    }
  };
  try {
    value();
    ws();
    if (i < text.length) fail(`unexpected ${what()} after the end of the JSON value`);
  } catch (e) {
    if (typeof e === 'object' && e !== null && 'offset' in e && 'reason' in e) return e as JsonSyntaxFault;
    throw e;
  }
  return null;
}

/**
 * Parse and validate a topology JSON file.
 * @param text the file's text.
 * @param sourceName the input's name (a path); callers pass it on to
 *   {@link formatTopologyErrors}, the errors themselves carry JSON paths.
 * @returns as {@link validateTopologySpec}; malformed JSON gives one error at path `$` whose
 *   message is `invalid JSON: <reason> at line L column C` (1-based).
 */
export function parseTopologyJson(text: string, sourceName: string): TopologyResult {
  void sourceName;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (e) {
    const fault = locateJsonError(text) ?? { offset: text.length, reason: e instanceof Error ? e.message : String(e) };
    const { line, column } = lineColumn(text, fault.offset);
    return { ok: false, errors: [{ path: '$', message: `invalid JSON: ${fault.reason} at line ${line} column ${column}` }] };
  }
  return validateTopologySpec(value);
}

/**
 * Render validation errors as one readable block.
 * @param errors as returned in a failed {@link TopologyResult}.
 * @param sourceName the input's name; the first line names it.
 * @returns e.g. `topo.json: invalid topology (2 errors)` then one indented `path: message` line each.
 */
export function formatTopologyErrors(errors: readonly TopologyError[], sourceName: string): string {
  const head = `${sourceName}: invalid topology (${errors.length} error${errors.length === 1 ? '' : 's'})`;
  return [head, ...errors.map((e) => `  ${e.path}: ${e.message}`)].join('\n');
}
