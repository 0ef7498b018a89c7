/**
 * Importer of real `lspci` output (`lspci -vvv -nn` at best; `-v`, `-vv`, no `-nn`, non-root
 * runs, `-t` trees and mixed nvidia-bug-report excerpts too) into a {@link TopologySpec}.
 *
 * The importer records what the text states and nothing else: no BAR addresses (enumeration
 * assigns them), no IDs it cannot read, no ACS bits it cannot see. What it had to infer or could
 * not tell is said in `warnings` (and in `spec.warnings`). Input it cannot turn into a tree (no
 * device record, a record cut mid-way, bridges that do not connect) is refused with an error
 * naming the input and the line.
 */
import { type Bdf, PCI_MAX_FN, PCI_MAX_SLOT, bdfKey, compareBdf, formatBus, routingId } from './bdf';
import { type LspciRecord, LspciSyntaxError, newRecord, parseLspciText } from './internal/lspci-records';
import { TREE_START_RE } from './internal/lspci-tree';
import type { AcsBitName, AcsSpec, BarSpec, CpuSpec, DeviceRole, DeviceSpec, HostBridgeSpec, PciePortType, PcieSpec, TopologySpec } from './topology-spec';
import { TOPOLOGY_SCHEMA_V1 } from './topology-spec';
import { PCIE_LINK_WIDTHS, PCI_MIN_IO_BAR, PCI_MIN_MEM_BAR, PCI_NUM_BARS, validateTopologySpec } from './topology-validate';

/** Result of {@link importLspci}. */
export type LspciImportResult = { ok: true; spec: TopologySpec; warnings: string[] } | { ok: false; error: string };

/** Warning when the dump has no numeric IDs. */
export const WARN_NO_NUMERIC_IDS = 'no numeric IDs (-nn): vendor/device unknown; host-bridge whitelist checks will treat them as not listed';
/** Warning when lspci could not read the capabilities. */
export const WARN_ACCESS_DENIED =
  'capabilities unreadable (lspci not run as root): port types inferred from the bus structure, ACS unknown';

/** Host bridge vendor ID → CPU vendor. */
const CPU_BY_VENDOR_ID: ReadonlyMap<number, CpuSpec['vendor']> = new Map([
  [0x8086, 'intel'],
  [0x1022, 'amd'],
  [0x1014, 'other'],
]);
/** Host bridge vendor name (as lspci prints it without -nn) → CPU vendor. */
const CPU_BY_VENDOR_NAME: ReadonlyArray<readonly [RegExp, CpuSpec['vendor']]> = [
  [/^Intel Corporation\b/, 'intel'],
  [/^Advanced Micro Devices\b/, 'amd'],
  [/^IBM\b/, 'other'],
];

/** Vendors whose Ethernet functions are RDMA NICs (by ID, or by name without -nn). */
const RDMA_VENDORS: ReadonlyArray<readonly [number, RegExp]> = [
  [0x15b3, /^Mellanox Technologies\b/],
  [0x1425, /^Chelsio Communications\b/],
];

/** Class (16-bit, prog-if aside) → role, for endpoints. */
const ROLE_BY_CLASS: ReadonlyMap<number, DeviceRole> = new Map([
  [0x0200, 'nic'],
  [0x0207, 'rnic'],
  [0x0300, 'gpu'],
  [0x0302, 'gpu'],
  [0x0380, 'gpu'],
]);
/** Highest 16-bit routing ID (bus ff, devfn ff). */
const MAX_ROUTING_ID = 0xffff;
/** NVMe: class 01 08, prog-if 02. */
const CLASS_NVM = 0x0108;
const PROGIF_NVME = 0x02;
const CLASS_ETHERNET = 0x0200;
const CLASS_HOST_BRIDGE = 0x0600;
/** Classes of PCI-to-PCI bridges (header type 1). */
const BRIDGE_CLASSES: ReadonlySet<number> = new Set([0x0604, 0x0609]);
/** Port types that need a port above them: seen on a root bus, the dump lacks their parent. */
const NEEDS_PARENT: ReadonlySet<PciePortType> = new Set(['upstream-port', 'downstream-port', 'endpoint', 'legacy-endpoint', 'pcie-pci-bridge']);

const HEADER_LINE_RE = /^(?:[0-9a-f]{4,8}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7] [^:]+: /;

/**
 * Tell lspci text from topology JSON (for automatic detection of an input file).
 * @param text the input.
 * @returns true when one of its first lines is an lspci device header or `-t` tree line.
 */
export function isLspciText(text: string): boolean {
  let start = 0;
  for (let n = 0; n < 64 && start < text.length; n++) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    const line = text.slice(start, end).replace(/\r$/, '');
    start = end + 1;
    const t = line.trimStart();
    if (t.length === 0) continue;
    if (n === 0 && (t.startsWith('{') || t.startsWith('['))) return false;
    if (HEADER_LINE_RE.test(line) || TREE_START_RE.test(line)) return true;
  }
  return false;
}

/** Warnings collected while importing (deduplicated, in order). */
interface Ctx {
  warnings: string[];
}

function warn(ctx: Ctx, message: string): void {
  if (!ctx.warnings.includes(message)) ctx.warnings.push(message);
}

/** A numeric key for a (domain, bus) pair. */
function busKey(domain: number, bus: number): number {
  return domain * 256 + bus;
}

function hex2(n: number): string {
  return n.toString(16).padStart(2, '0');
}

function hex4(n: number): string {
  return n.toString(16).padStart(4, '0');
}

/** List a few BDFs for a warning. */
function some(bdfs: readonly string[]): string {
  return bdfs.length <= 3 ? bdfs.join(', ') : `${bdfs.slice(0, 3).join(', ')} and ${bdfs.length - 3} more`;
}

/**
 * Import `lspci` text.
 * @param text the dump (see the module comment for the variants understood).
 * @param sourceName the input's name, used in every error and in `spec.name`.
 * @returns `{ ok: true, spec, warnings }` with a validated topology (warnings repeated in
 *   `spec.warnings`), or `{ ok: false, error }`: one line naming the input and the line: no device
 *   record, a record cut mid-way, or bridges that cannot be connected into a tree (several such
 *   problems are joined with `; `).
 */
export function importLspci(text: string, sourceName: string): LspciImportResult {
  let parsed: ReturnType<typeof parseLspciText>;
  try {
    parsed = parseLspciText(text);
  } catch (e) {
    if (e instanceof LspciSyntaxError) return { ok: false, error: `${sourceName}: line ${e.line}: ${e.reason}` };
    throw e;
  }
  const ctx: Ctx = { warnings: [] };
  const { records } = parsed;

  // Join the -t trees: bus ranges of bridges with no detailed record, functions listed only there.
  for (const e of parsed.tree.entries) {
    const addr: Bdf = { domain: e.domain, bus: e.bus, slot: e.slot, fn: e.fn };
    const key = bdfKey(addr);
    let rec = records.get(key);
    if (!rec) {
      rec = newRecord(addr, e.line);
      records.set(key, rec);
    }
    if (!e.range) continue;
    if (rec.secondary === undefined) {
      rec.secondary = e.range[0];
      rec.subordinate = e.range[1];
      rec.busLine = e.line;
    } else if (rec.secondary !== e.range[0] || rec.subordinate !== e.range[1]) {
      warn(ctx, `${rec.bdf}: the -t tree (line ${e.line}) gives buses ${hex2(e.range[0])}-${hex2(e.range[1])} but its record gives ${hex2(rec.secondary)}-${hex2(rec.subordinate!)}; the record wins`);
    }
  }
  if (records.size === 0) {
    const lineCount = text.split('\n').length;
    return {
      ok: false,
      error: `${sourceName}: lines 1-${lineCount}: no PCI device record found (expected lspci output such as 'lspci -vvv -nn')`,
    };
  }
  const recs = [...records.values()].sort((a, b) => compareBdf(a.addr, b.addr));

  // Bridges must have bus numbers to be placed in the tree.
  for (const r of recs) {
    const isBridgeClass = (r.class16 !== undefined && BRIDGE_CLASSES.has(r.class16)) || r.headerType === 1;
    if (isBridgeClass && r.secondary === undefined) {
      return {
        ok: false,
        error: `${sourceName}: line ${r.line}: cannot connect the bridges: ${r.bdf} is a PCI bridge but the input gives no bus numbers for it (it needs lspci -v detail or an lspci -t tree)`,
      };
    }
  }

  // Root buses: the buses no bridge range covers.
  const covered = new Map<number, Uint8Array>();
  for (const r of recs) {
    if (r.secondary === undefined) continue;
    let bits = covered.get(r.addr.domain);
    if (!bits) {
      bits = new Uint8Array(256);
      covered.set(r.addr.domain, bits);
    }
    bits.fill(1, r.secondary, Math.max(r.secondary, r.subordinate ?? r.secondary) + 1);
  }
  const byBus = new Map<number, LspciRecord[]>();
  for (const r of recs) {
    const key = busKey(r.addr.domain, r.addr.bus);
    const list = byBus.get(key);
    if (list) list.push(r);
    else byBus.set(key, [r]);
  }
  const roots: Array<{ domain: number; bus: number }> = [];
  for (const r of recs) {
    if (covered.get(r.addr.domain)?.[r.addr.bus]) continue;
    const last = roots[roots.length - 1];
    if (!last || last.domain !== r.addr.domain || last.bus !== r.addr.bus) roots.push({ domain: r.addr.domain, bus: r.addr.bus });
  }
  const isRootBus = new Set(roots.map((x) => busKey(x.domain, x.bus)));
  const provider = new Map<number, LspciRecord>();
  for (const r of recs) {
    if (r.secondary === undefined) continue;
    const key = busKey(r.addr.domain, r.secondary);
    if (!provider.has(key)) provider.set(key, r);
  }

  // Capability detail: known (listed, or a detailed record without any), denied, or absent.
  const capsKnown = (r: LspciRecord): boolean => r.capsListed || (r.detail && !r.capsDenied);
  const denied = recs.filter((r) => r.capsDenied && !r.capsListed);
  const absent = recs.filter((r) => !r.detail && !r.capsDenied);
  if (denied.length > 0) warn(ctx, WARN_ACCESS_DENIED);
  if (absent.length > 0 && absent.length < recs.length) {
    warn(ctx, `${absent.length} functions have no detailed record (listed only by lspci -nn/-t, e.g. ${some(absent.map((r) => r.bdf))}): port types inferred from the bus structure, ACS unknown`);
  } else if (absent.length > 0) {
    warn(ctx, 'no detailed records (plain lspci listing): port types inferred from the bus structure, ACS unknown');
  }

  // Port types: read, or inferred top-down from the structure.
  const portTypeOf = (r: LspciRecord): PciePortType | undefined => {
    if (r.portType) return r.portType;
    if (capsKnown(r)) return undefined; // conventional PCI: no Express capability
    if (r.inferredPortType !== undefined) return r.inferredPortType ?? undefined;
    if (r.inferring) return undefined;
    r.inferring = true;
    const key = busKey(r.addr.domain, r.addr.bus);
    const isBridge = r.secondary !== undefined;
    let t: PciePortType | undefined;
    if (isRootBus.has(key)) {
      t = isBridge ? 'root-port' : undefined;
    } else {
      const parent = provider.get(key);
      const pt = parent ? portTypeOf(parent) : undefined;
      if (pt === 'root-port' || pt === 'downstream-port') {
        if (isBridge) {
          const below = byBus.get(busKey(r.addr.domain, r.secondary!)) ?? [];
          t = below.length > 0 && below.every((c) => c.secondary !== undefined) ? 'upstream-port' : 'pcie-pci-bridge';
        } else t = 'endpoint';
      } else if (pt === 'upstream-port') {
        t = isBridge ? 'downstream-port' : 'endpoint';
      }
    }
    r.inferring = false;
    r.inferredPortType = t ?? null;
    return t;
  };

  // Host bridges, one per root bus.
  const hostBridges: HostBridgeSpec[] = roots.map((root, i) => {
    const next = roots[i + 1];
    const hb: HostBridgeSpec = { domain: root.domain, bus: root.bus, busEnd: next && next.domain === root.domain ? next.bus - 1 : 0xff };
    const onBus = byBus.get(busKey(root.domain, root.bus)) ?? [];
    const hostFn = onBus.find((r) => r.addr.slot === 0 && r.addr.fn === 0 && r.class16 === CLASS_HOST_BRIDGE);
    if (hostFn?.label) hb.label = hostFn.label;
    const orphan = onBus.find((r) => {
      const t = portTypeOf(r);
      return t !== undefined && NEEDS_PARENT.has(t);
    });
    if (orphan) {
      const t = portTypeOf(orphan)!;
      hb.label = `unknown (the dump lacks the path above bus ${formatBus(root.domain, root.bus)})`;
      warn(
        ctx,
        `bus ${formatBus(root.domain, root.bus)} has no parent bridge in the dump (${orphan.bdf} is a${t === 'upstream-port' || t === 'endpoint' ? 'n' : ''} ${t.replace('-', ' ')}): a host bridge was created for it; the path above ${orphan.bdf} is unknown`,
      );
    }
    return hb;
  });

  // BAR indexes inferred from order?
  const byOrder = recs.filter((r) => r.barsByOrder && r.bars.length > 0);
  if (byOrder.length > 0) warn(ctx, 'BAR indexes inferred from the order of the Memory/I/O lines (lspci -v prints no region numbers)');
  const unsized = recs.filter((r) => r.barsWithoutSize > 0);
  if (unsized.length > 0) warn(ctx, `BARs listed without a size are left out (${some(unsized.map((r) => r.bdf))})`);

  // SR-IOV: virtual functions by the PF's VF offset and stride.
  const physfn = new Map<string, string>();
  for (const r of recs) {
    const s = r.sriov;
    if (!s?.numVfs || s.offset === undefined || s.stride === undefined || s.enabled === false) continue;
    const rid = routingId(r.addr);
    for (let i = 0; i < s.numVfs; i++) {
      const vrid = rid + s.offset + i * s.stride;
      if (vrid > MAX_ROUTING_ID) break;
      const vf = records.get(bdfKey({ domain: r.addr.domain, bus: vrid >> 8, slot: (vrid >> 3) & PCI_MAX_SLOT, fn: vrid & PCI_MAX_FN }));
      if (vf) physfn.set(vf.bdf, r.bdf);
    }
  }
  const lostVfs = recs.filter((r) => r.virtualFunction && !physfn.has(r.bdf));
  if (lostVfs.length > 0) warn(ctx, `virtual functions whose physical function is unknown (no SR-IOV detail): ${some(lostVfs.map((r) => r.bdf))}`);

  // Devices.
  const acsOnlyListed: string[] = [];
  const devices: DeviceSpec[] = recs.map((r) => {
    const d: DeviceSpec = { bdf: r.bdf };
    if (r.vendor !== undefined) d.vendor = r.vendor;
    if (r.device !== undefined) d.device = r.device;
    if (r.subsystemVendor !== undefined) d.subsystemVendor = r.subsystemVendor;
    if (r.subsystemDevice !== undefined) d.subsystemDevice = r.subsystemDevice;
    if (r.class16 !== undefined) d.classCode = (r.class16 << 8) | (r.progIf ?? 0);
    if (r.revision !== undefined) d.revision = r.revision;
    if (r.label) d.label = r.label;
    if (r.secondary !== undefined) {
      d.headerType = 1;
      d.secondaryBus = r.secondary;
      d.subordinateBus = r.subordinate ?? r.secondary;
    } else d.headerType = 0;
    const portType = portTypeOf(r);
    if (portType) d.pcie = pcieOf(ctx, r, portType);
    const acs = acsOf(ctx, r, capsKnown(r));
    if (acs) {
      d.acs = acs;
      if (r.hasAcs && r.acsCtrl === undefined) acsOnlyListed.push(r.bdf);
    }
    const bars = barsOf(ctx, r);
    if (bars.length > 0) d.bars = bars;
    const pf = physfn.get(r.bdf);
    if (pf) d.physfn = pf;
    if (r.driver) d.driver = r.driver;
    const role = roleOf(r, d.headerType === 1);
    if (role) d.role = role;
    return d;
  });
  if (acsOnlyListed.length > 0) {
    warn(ctx, `ACS capability listed without its bits (lspci -v, not -vvv) on ${some(acsOnlyListed)}: ACS capability and control unknown`);
  }
  if (recs.some((r) => r.vendor === undefined || r.device === undefined)) warn(ctx, WARN_NO_NUMERIC_IDS);
  const nvme = devices.filter((d) => d.role === 'nvme');
  if (nvme.length > 0) warn(ctx, `NVMe CMBs are not visible in lspci output: nvme.cmb left unset (${some(nvme.map((d) => d.bdf))})`);

  // CPU vendor from the first host bridge function that names one.
  let cpu: CpuSpec | undefined;
  for (const root of roots) {
    const fn0 = byBus.get(busKey(root.domain, root.bus))?.find((r) => r.addr.slot === 0 && r.addr.fn === 0);
    if (!fn0) continue;
    let vendor = fn0.vendor !== undefined ? CPU_BY_VENDOR_ID.get(fn0.vendor) : undefined;
    if (!vendor && fn0.label) vendor = CPU_BY_VENDOR_NAME.find(([re]) => re.test(fn0.label!))?.[1];
    if (!vendor) continue;
    cpu = { vendor };
    warn(ctx, `CPU vendor '${vendor}' inferred from host bridge function ${fn0.bdf} (${fn0.label ?? hex4(fn0.vendor!)}); CPU family unknown`);
    break;
  }
  if (!cpu) warn(ctx, 'CPU vendor unknown: no host bridge function in the dump names it');

  // IOMMU: the kernel enables ACS Source Validation only when an IOMMU asks for ACS.
  const sv = recs.find((r) => r.acsSrcValid);
  if (sv) warn(ctx, `IOMMU assumed on: ACSCtl shows SrcValid+ on ${sv.bdf} (the kernel enables ACS only for an IOMMU)`);
  else {
    const groups = recs.some((r) => r.iommuGroup);
    warn(
      ctx,
      groups
        ? 'IOMMU assumed off: no ACSCtl SrcValid+ seen (IOMMU groups are listed, so an IOMMU driver is loaded; set iommu in a topology JSON if DMA remapping is on)'
        : 'IOMMU assumed off: no ACSCtl SrcValid+ seen',
    );
  }

  const spec: TopologySpec = {
    schema: TOPOLOGY_SCHEMA_V1,
    name: sourceName,
    description: `Imported from lspci output '${sourceName}' (${recs.length} functions, ${hostBridges.length} root bus${hostBridges.length === 1 ? '' : 'es'})`,
    iommu: sv !== undefined,
    hostBridges,
    devices,
    warnings: ctx.warnings,
  };
  if (cpu) spec.cpu = cpu;

  const result = validateTopologySpec(spec);
  if (!result.ok) {
    const lineOf = (path: string): number => {
      const dm = /^\$\.devices\[(\d+)\]\.(secondaryBus|subordinateBus)?/.exec(path);
      if (dm) {
        const r = recs[Number(dm[1])]!;
        return dm[2] !== undefined && r.busLine !== undefined ? r.busLine : r.line;
      }
      const hm = /^\$\.hostBridges\[(\d+)\]/.exec(path);
      const hb = hm ? hostBridges[Number(hm[1])] : undefined;
      return hb ? (byBus.get(busKey(hb.domain, hb.bus))?.[0]?.line ?? 1) : 1;
    };
    // One line, as every importer error: the problems joined by '; ', each naming the input and its line.
    const problems = result.errors.map((e) => `${sourceName}: line ${lineOf(e.path)}: cannot connect the bridges: ${e.message}`);
    return { ok: false, error: problems.join('; ') };
  }
  return { ok: true, spec: result.spec, warnings: [...ctx.warnings] };
}

function pcieOf(ctx: Ctx, r: LspciRecord, portType: PciePortType): PcieSpec {
  const p: PcieSpec = { portType };
  const width = (w: number | undefined): number | undefined => {
    if (w === undefined) return undefined;
    if (PCIE_LINK_WIDTHS.includes(w)) return w;
    warn(ctx, `${r.bdf}: link width x${w} is not a PCIe width; left unknown`);
    return undefined;
  };
  if (r.linkGen !== undefined) p.linkGen = r.linkGen;
  const lw = width(r.linkWidth);
  if (lw !== undefined) p.linkWidth = lw;
  if (r.maxLinkGen !== undefined) p.maxLinkGen = r.maxLinkGen;
  const mw = width(r.maxLinkWidth);
  if (mw !== undefined) p.maxLinkWidth = mw;
  // A link trained above its capability is a misread; keep the capability only.
  if (p.linkGen !== undefined && p.maxLinkGen !== undefined && p.linkGen > p.maxLinkGen) delete p.maxLinkGen;
  if (p.linkWidth !== undefined && p.maxLinkWidth !== undefined && p.linkWidth > p.maxLinkWidth) delete p.maxLinkWidth;
  if (r.mps !== undefined) p.mps = r.mps;
  return p;
}

function acsOf(ctx: Ctx, r: LspciRecord, capsKnown: boolean): AcsSpec | undefined {
  if (!capsKnown) return { cap: 'unknown', ctrl: 'unknown' };
  if (!r.hasAcs) return undefined;
  const cap: AcsBitName[] | 'unknown' = r.acsCap ?? 'unknown';
  let ctrl: AcsBitName[] | 'unknown' = r.acsCtrl ?? 'unknown';
  if (Array.isArray(cap) && Array.isArray(ctrl)) {
    const extra = ctrl.filter((b) => !cap.includes(b));
    if (extra.length > 0) {
      warn(ctx, `${r.bdf}: ACSCtl sets ${extra.join(' ')} which ACSCap lacks; ignored`);
      ctrl = ctrl.filter((b) => cap.includes(b));
    }
  }
  return { cap, ctrl };
}

function barsOf(ctx: Ctx, r: LspciRecord): BarSpec[] {
  const out: BarSpec[] = [];
  const used = new Set<number>();
  for (const b of r.bars) {
    const slots = b.is64 ? [b.index, b.index + 1] : [b.index];
    const min = b.kind === 'io' ? PCI_MIN_IO_BAR : PCI_MIN_MEM_BAR;
    const pow2 = isPow2(b.size) && b.size >= min;
    if (!pow2 || slots[slots.length - 1]! >= PCI_NUM_BARS || slots.some((s) => used.has(s))) {
      warn(ctx, `${r.bdf}: BAR ${b.index} (${b.kind}, ${b.size} bytes) cannot be modelled; left out`);
      continue;
    }
    for (const s of slots) used.add(s);
    out.push(b);
  }
  return out;
}

function isPow2(n: number): boolean {
  if (!Number.isSafeInteger(n) || n <= 0) return false;
  return Number.isInteger(Math.log2(n));
}

function roleOf(r: LspciRecord, isBridge: boolean): DeviceRole | undefined {
  if (isBridge || r.class16 === undefined) return undefined;
  if (r.class16 === CLASS_NVM && r.progIf === PROGIF_NVME) return 'nvme';
  if (r.class16 === CLASS_ETHERNET) {
    const rdma = RDMA_VENDORS.some(([id, name]) => (r.vendor !== undefined ? r.vendor === id : name.test(r.label ?? '')));
    return rdma ? 'rnic' : 'nic';
  }
  return ROLE_BY_CLASS.get(r.class16);
}
