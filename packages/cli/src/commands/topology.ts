/**
 * `p2pdma topology <topo>`: the enumerated tree with port types, links, ACS state, BARs and the
 * p2pmem each function offers, as text or as versioned JSON.
 */
import { formatResource, IORESOURCE_MEM, type PciDev, pciResourceLen } from '@p2pdma/pci-core';
import { type CpuJson, renderCpuLine, resolveCpu } from '../cpu';
import type { Machine } from '../machine';
import { type AcsState, acsStateOf, humanBytes, portTypeName } from '../format';
import type { LoadedTopology } from '../input';

/** JSON schema identifier of `p2pdma topology --json`. */
export const TOPOLOGY_JSON_SCHEMA = 'p2pdma-cli/topology/v1';

/** One function in `topology --json`. */
export interface TopologyJsonDevice {
  bdf: string;
  parent: string | null;
  vendor: number | null;
  device: number | null;
  classCode: number | null;
  label: string | null;
  role: string | null;
  portType: string;
  link: { gen: number | null; width: number | null; maxGen: number | null; maxWidth: number | null };
  acs: AcsState | null;
  iommuGroup: number | null;
  bars: Array<{ index: number; start: number; end: number; size: number; busStart: number; flags: string }>;
  /** The p2pmem region the topology says this function offers (registered by drivers later). */
  p2pmemCandidate: { bar: number; size: number; offset: number } | null;
}

/** The whole `topology --json` object. */
export interface TopologyJson {
  schema: typeof TOPOLOGY_JSON_SCHEMA;
  source: string;
  name: string | null;
  policy: string;
  iommu: boolean;
  /**
   * The CPU the AMD rule sees: `value`, `source` and `basis` as in every command's `cpu`
   * (see `../cpu`), plus the `vendor` and `family` the booted topology holds.
   */
  cpu: CpuJson & { vendor: string | null; family: number | null };
  hostBridges: Array<{ name: string; domain: number; buses: [number, number]; windows: Array<{ start: number; end: number; offset: number }>; peerForwarding: string; label: string | null }>;
  devices: TopologyJsonDevice[];
  warnings: string[];
}

function barsOf(dev: PciDev, busOffset: (cpu: number) => number | null) {
  const out: TopologyJsonDevice['bars'] = [];
  for (let i = 0; i < 6; i++) {
    const r = dev.resource[i];
    if (!r?.flags) continue;
    const size = pciResourceLen(dev, i);
    if (!size) continue;
    out.push({ index: i, start: r.start, end: r.end, size, busStart: busOffset(r.start) ?? r.start, flags: formatResource(r) });
  }
  return out;
}

function p2pmemCandidateOf(dev: PciDev): TopologyJsonDevice['p2pmemCandidate'] {
  const hint = dev.spec.p2pmem ?? (dev.spec.nvme?.cmb ? { bar: dev.spec.nvme.cmb.bar, size: dev.spec.nvme.cmb.size, offset: dev.spec.nvme.cmb.offset } : undefined);
  if (!hint) return null;
  const r = dev.resource[hint.bar];
  if (!r || !(r.flags & IORESOURCE_MEM)) return null;
  const len = pciResourceLen(dev, hint.bar);
  const offset = hint.offset ?? 0;
  return { bar: hint.bar, size: hint.size || len - offset, offset };
}

/**
 * Build the `topology --json` object from a booted machine.
 * @param m the machine
 * @param input the loaded topology (for its source and warnings)
 * @param cpu the CPU as the command resolved it (default: resolved from `input` without `--cpu`,
 *   looking at `m`'s host bridges)
 * @returns the JSON object (schema {@link TOPOLOGY_JSON_SCHEMA})
 */
export function topologyJson(m: Machine, input: LoadedTopology, cpu: CpuJson = resolveCpu(input, undefined, () => m).json): TopologyJson {
  const { pci, kernel } = m;
  const hbOf = (dev: PciDev) => pci.hostBridges.find((h) => h.domain === dev.pciBus.domain && dev.pciBus.number >= h.busStart && dev.pciBus.number <= h.busEnd) ?? null;
  return {
    schema: TOPOLOGY_JSON_SCHEMA,
    source: input.source,
    name: pci.spec.name ?? null,
    policy: kernel.policy,
    iommu: kernel.iommu.enabled,
    cpu: { ...cpu, vendor: pci.spec.cpu?.vendor ?? null, family: pci.spec.cpu?.family ?? null },
    hostBridges: pci.hostBridges.map((h) => ({
      name: h.name,
      domain: h.domain,
      buses: [h.busStart, h.busEnd],
      windows: h.windows.map((w) => ({ start: w.res.start, end: w.res.end, offset: w.offset })),
      peerForwarding: h.peerForwarding,
      label: h.label,
    })),
    devices: pci.devices().map((dev) => {
      const hb = hbOf(dev);
      const up = dev.pciBus.self;
      return {
        bdf: dev.name,
        parent: up ? up.name : null,
        vendor: dev.vendor,
        device: dev.device,
        classCode: dev.classCode,
        label: dev.label,
        role: dev.role,
        portType: portTypeName(dev),
        link: { gen: dev.link.gen, width: dev.link.width, maxGen: dev.link.maxGen, maxWidth: dev.link.maxWidth },
        acs: acsStateOf(dev),
        iommuGroup: dev.iommuGroup ? dev.iommuGroup.id : null,
        bars: barsOf(dev, (cpu) => (hb ? hb.cpuToBus(cpu) : null)),
        p2pmemCandidate: p2pmemCandidateOf(dev),
      };
    }),
    warnings: [...new Set([...input.warnings, ...pci.warnings])],
  };
}

/**
 * Render the tree as text.
 * @param t the `topology --json` object
 * @returns lines of text, newline-terminated
 */
export function renderTopology(t: TopologyJson): string {
  const out: string[] = [];
  const title = t.name ? `${t.name} (${t.source})` : t.source;
  out.push(`${title}: policy ${t.policy}, IOMMU ${t.iommu ? 'on' : 'off'}`);
  out.push(renderCpuLine(t.cpu));
  const children = new Map<string | null, TopologyJsonDevice[]>();
  for (const d of t.devices) {
    const list = children.get(d.parent) ?? [];
    list.push(d);
    children.set(d.parent, list);
  }
  const describe = (d: TopologyJsonDevice): string[] => {
    const parts = [`${d.bdf} ${d.portType} [${hex4(d.vendor)}:${hex4(d.device)}]`];
    if (d.role) parts.push(d.role);
    if (d.label) parts.push(d.label);
    const head = parts.join(' ');
    const facts: string[] = [];
    if (d.link.gen !== null || d.link.width !== null) facts.push(`link Gen${d.link.gen ?? '?'} x${d.link.width ?? '?'}`);
    if (d.acs) facts.push(`ACS cap ${d.acs.cap.join(' ') || '-'} ctrl ${d.acs.ctrl.join(' ') || '-'}`);
    if (d.iommuGroup !== null) facts.push(`IOMMU group ${d.iommuGroup}`);
    const lines = [facts.length ? `${head}  (${facts.join(', ')})` : head];
    for (const b of d.bars) lines.push(`BAR ${b.index}: ${b.flags} ${humanBytes(b.size)}${b.busStart !== b.start ? ` bus 0x${b.busStart.toString(16)}` : ''}`);
    if (d.p2pmemCandidate) {
      const c = d.p2pmemCandidate;
      lines.push(`p2pmem candidate: BAR ${c.bar} offset ${humanBytes(c.offset)} size ${humanBytes(c.size)}`);
    }
    return lines;
  };
  const walk = (prefix: string, roots: TopologyJsonDevice[]) => {
    roots.forEach((d, i) => {
      const last = i === roots.length - 1;
      const [first, ...rest] = describe(d);
      out.push(`${prefix}${last ? '└─ ' : '├─ '}${first}`);
      const kids = children.get(d.bdf) ?? [];
      const cont = `${prefix}${last ? '   ' : '│  '}`;
      for (const r of rest) out.push(`${cont}${kids.length ? '│ ' : '  '} ${r}`);
      walk(cont, kids);
    });
  };
  const roots = children.get(null) ?? [];
  for (const hb of t.hostBridges) {
    const w = hb.windows.map((x) => `[mem 0x${x.start.toString(16)}-0x${x.end.toString(16)}]${x.offset ? ` offset 0x${x.offset.toString(16)}` : ''}`).join(' ');
    out.push(`${hb.name} host bridge${hb.label ? ` ${hb.label}` : ''}: buses ${hb.buses.map((b) => b.toString(16).padStart(2, '0')).join('-')}, window ${w || 'none'}, peer-to-peer ${hb.peerForwarding}`);
    const mine = roots.filter((d) => {
      const dom = Number.parseInt(d.bdf.slice(0, d.bdf.indexOf(':')), 16);
      const bus = Number.parseInt(d.bdf.split(':')[1]!, 16);
      return dom === hb.domain && bus >= hb.buses[0] && bus <= hb.buses[1];
    });
    walk('', mine);
  }
  for (const w of t.warnings) out.push(`warning: ${w}`);
  return `${out.join('\n')}\n`;
}

function hex4(n: number | null): string {
  return n === null ? '????' : n.toString(16).padStart(4, '0');
}
