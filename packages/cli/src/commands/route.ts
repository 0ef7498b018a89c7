/**
 * `p2pdma route <topo> --from <BDF> --to <BDF>`: one device DMA-writes real bytes into another's
 * BAR through the modelled fabric; prints the hops, the bytes on every link, the root complex and
 * DRAM, and whether the bytes landed (read back from the target BAR and compared).
 */
import { IORESOURCE_MEM, type PciDev, pciBusAddress, pciResourceLen, pciResourceStart, type RouteDescription } from '@p2pdma/pci-core';
import { UsageError } from '../args';
import type { Machine } from '../machine';

/** JSON schema identifier of `p2pdma route --json`. */
export const ROUTE_JSON_SCHEMA = 'p2pdma-cli/route/v1';

/** What `route` was asked to do. */
export interface RouteRequest {
  from: string;
  to: string;
  /** Target BAR index; default: the first memory BAR large enough. */
  bar?: number;
  offset: number;
  bytes: number;
  /** Address the initiator uses: the BAR's bus address (correct) or its CPU address (a classic bug). */
  address: 'bus' | 'cpu';
}

/** The `route --json` object. */
export interface RouteJson {
  schema: typeof ROUTE_JSON_SCHEMA;
  from: string;
  to: string;
  bar: number;
  dmaAddress: number;
  bytes: number;
  status: string;
  at: string | null;
  reason: string | null;
  landed: boolean;
  hops: RouteDescription['hops'];
  links: Array<{ link: string; upBytes: number; downBytes: number }>;
  rootComplexBytes: number;
  dramBytes: number;
}

function pickBar(dev: PciDev, want: number | undefined, need: number): number {
  if (want !== undefined) {
    if (!Number.isInteger(want) || want < 0 || want > 5) throw new UsageError(`--bar must be 0-5 (got ${want})`);
    if (!((dev.resource[want]?.flags ?? 0) & IORESOURCE_MEM) || !pciResourceLen(dev, want)) throw new UsageError(`${dev.name} has no memory BAR ${want}`);
    return want;
  }
  // Prefer the BAR the topology offers as p2pmem (or CMB), else the largest memory BAR.
  const hinted = dev.spec.p2pmem?.bar ?? dev.spec.nvme?.cmb?.bar;
  if (hinted !== undefined && pciResourceLen(dev, hinted) >= need) return hinted;
  let best = -1;
  for (let i = 0; i < 6; i++) {
    if ((dev.resource[i]?.flags ?? 0) & IORESOURCE_MEM && pciResourceLen(dev, i) >= need && (best < 0 || pciResourceLen(dev, i) > pciResourceLen(dev, best))) best = i;
  }
  if (best >= 0) return best;
  throw new UsageError(`${dev.name} has no memory BAR of at least ${need} bytes`);
}

/**
 * Run one DMA write through the fabric and report what it did.
 * @param m the booted machine
 * @param req the request (BDFs already normalised)
 * @param pattern the bytes to write (length = req.bytes)
 * @returns the report; `landed` is true only when the target BAR holds exactly the bytes written
 * @throws UsageError for an unknown device or BAR, or a range past the BAR
 */
export function routeDma(m: Machine, req: RouteRequest, pattern: Uint8Array): RouteJson {
  const from = m.pci.findByBdf(req.from);
  if (!from) throw new UsageError(`unknown device '${req.from}' (not in this topology)`);
  const to = m.pci.findByBdf(req.to);
  if (!to) throw new UsageError(`unknown device '${req.to}' (not in this topology)`);
  const bar = pickBar(to, req.bar, req.offset + req.bytes);
  if (req.offset + req.bytes > pciResourceLen(to, bar)) throw new UsageError(`offset + bytes exceed BAR ${bar} of ${to.name}`);
  const base = req.address === 'bus' ? pciBusAddress(to, bar) : pciResourceStart(to, bar);
  const addr = base + req.offset;
  const fabric = m.pci.fabric;
  const route = fabric.describeRoute(from, addr, 'write');
  const backing = to.barBacking(bar);
  const before = new Uint8Array(req.bytes);
  backing?.read(req.offset, before);
  fabric.resetCounters();
  const r = fabric.dmaWrite(from, addr, pattern);
  const after = new Uint8Array(req.bytes);
  backing?.read(req.offset, after);
  const landed = r.status === 'ok' && Buffer.compare(after, pattern) === 0;
  const c = fabric.counters();
  const links = Object.entries(c.links)
    .filter(([, v]) => v.up || v.down)
    .map(([link, v]) => ({ link, upBytes: v.up, downBytes: v.down }));
  const rootComplexBytes = Object.values(c.rootComplexes).reduce((s, x) => s + x.in + x.out, 0);
  return {
    schema: ROUTE_JSON_SCHEMA,
    from: from.name,
    to: to.name,
    bar,
    dmaAddress: addr,
    bytes: req.bytes,
    status: r.status,
    at: r.status === 'ok' ? null : r.at,
    reason: route.reason,
    landed,
    hops: route.hops,
    links,
    rootComplexBytes,
    dramBytes: c.dram.read + c.dram.write,
  };
}

function hopText(h: RouteJson['hops'][number]): string {
  const arrow = h.dir === 'up' ? '↑' : h.dir === 'down' ? '↓' : '';
  const name = h.kind === 'link' ? `link ${h.name}${arrow}` : h.kind === 'bar' || h.kind === 'device' ? h.name : `${h.kind} ${h.name}`;
  return h.detail ? `${name} (${h.detail})` : name;
}

/**
 * Render a route report as text.
 * @param r the report
 * @returns the text, newline-terminated
 */
export function renderRoute(r: RouteJson): string {
  const out = [
    `DMA write of ${r.bytes} bytes from ${r.from} to BAR ${r.bar} of ${r.to} at 0x${r.dmaAddress.toString(16)}: ${r.status}${r.at ? ` at ${r.at}` : ''}${r.reason ? ` (${r.reason})` : ''}`,
    `path: ${r.hops.map(hopText).join(' → ')}`,
    'bytes moved:',
    ...r.links.map((l) => `  link ${l.link}: up ${l.upBytes}, down ${l.downBytes}`),
    `  root complex: ${r.rootComplexBytes}`,
    `  DRAM: ${r.dramBytes}`,
    r.landed ? 'verified: the target BAR holds exactly the bytes written' : 'NOT landed: the target BAR does not hold the bytes written',
  ];
  return `${out.join('\n')}\n`;
}
