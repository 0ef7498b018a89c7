/**
 * `p2pdma render <topo> [--path <BDF>,<BDF>] -o out.svg`: an SVG of the enumerated topology, one
 * box per function laid out as a tree under its host bridge, with the P2P path between two
 * devices drawn (as `check` computes it) and the devices with ACS redirect on that path marked.
 */
import type { CheckJson } from './query';
import type { TopologyJson, TopologyJsonDevice } from './topology';

const BOX_W = 190;
const BOX_H = 54;
const GAP_X = 24;
const GAP_Y = 46;
const MARGIN = 24;
const HB_H = 34;

/** Colours by role and state (one table, used by the boxes and the legend). */
const STYLE = {
  bridge: '#e8eef7',
  endpoint: '#f4f4f4',
  rnic: '#e3f2e1',
  nvme: '#fff1d6',
  p2pmem: '#f3e3f7',
  gpu: '#e1f0f7',
  path: '#d62728',
  culprit: '#ff9f1c',
  stroke: '#555',
} as const;

function esc(s: string): string {
  return s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

interface Placed {
  dev: TopologyJsonDevice;
  x: number;
  y: number;
}

/**
 * Render the topology as SVG.
 * @param t the `topology --json` object of the machine
 * @param check optional `check` result for one provider and one client: its path is drawn and its
 *   ACS culprits marked
 * @returns a standalone SVG document
 */
export function renderSvg(t: TopologyJson, check?: CheckJson): string {
  const children = new Map<string | null, TopologyJsonDevice[]>();
  for (const d of t.devices) {
    const list = children.get(d.parent) ?? [];
    list.push(d);
    children.set(d.parent, list);
  }
  const placed = new Map<string, Placed>();
  let nextLeafX = MARGIN;
  let maxDepth = 0;
  // Tidy tree: leaves left to right, a parent centred over its children.
  const place = (d: TopologyJsonDevice, depth: number): number => {
    maxDepth = Math.max(maxDepth, depth);
    const kids = children.get(d.bdf) ?? [];
    let x: number;
    if (kids.length === 0) {
      x = nextLeafX;
      nextLeafX += BOX_W + GAP_X;
    } else {
      const xs = kids.map((k) => place(k, depth + 1));
      x = (xs[0]! + xs[xs.length - 1]!) / 2;
    }
    placed.set(d.bdf, { dev: d, x, y: MARGIN + HB_H + GAP_Y + depth * (BOX_H + GAP_Y) });
    return x;
  };
  const hbBoxes: Array<{ name: string; label: string; x0: number; x1: number }> = [];
  const roots = children.get(null) ?? [];
  for (const hb of t.hostBridges) {
    const mine = roots.filter((d) => {
      const dom = Number.parseInt(d.bdf.slice(0, d.bdf.indexOf(':')), 16);
      const bus = Number.parseInt(d.bdf.split(':')[1]!, 16);
      return dom === hb.domain && bus >= hb.buses[0] && bus <= hb.buses[1];
    });
    const start = nextLeafX;
    for (const r of mine) place(r, 0);
    if (nextLeafX === start) nextLeafX += BOX_W + GAP_X;
    hbBoxes.push({ name: hb.name, label: hb.label ?? '', x0: start, x1: nextLeafX - GAP_X });
    nextLeafX += GAP_X;
  }
  const width = Math.max(nextLeafX + MARGIN, 400);
  const height = MARGIN + HB_H + GAP_Y + (maxDepth + 1) * (BOX_H + GAP_Y) + 70;
  const onPath = new Set(check?.clients.flatMap((c) => c.path) ?? []);
  const culprits = new Set(check?.clients.flatMap((c) => c.acsRedirect) ?? []);
  const out: string[] = [];
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="sans-serif" font-size="11">`);
  out.push(`<title>${esc(t.name ?? t.source)}: PCI topology${check ? `, path ${esc(check.clients[0]?.client ?? '')} → ${esc(check.provider)}` : ''}</title>`);
  out.push('<rect width="100%" height="100%" fill="white"/>');
  // Host bridges.
  for (const hb of hbBoxes) {
    out.push(`<g class="host-bridge" id="${esc(hb.name)}"><rect x="${hb.x0}" y="${MARGIN}" width="${hb.x1 - hb.x0}" height="${HB_H}" rx="6" fill="#ddd" stroke="${STYLE.stroke}"/><text x="${(hb.x0 + hb.x1) / 2}" y="${MARGIN + 21}" text-anchor="middle" font-weight="bold">${esc(hb.name)} ${esc(hb.label)}</text></g>`);
  }
  // Edges (drawn first, under the boxes).
  const center = (p: Placed) => ({ x: p.x + BOX_W / 2, top: p.y, bottom: p.y + BOX_H });
  for (const p of placed.values()) {
    const c = center(p);
    const parent = p.dev.parent ? placed.get(p.dev.parent) : undefined;
    const py = parent ? center(parent).bottom : MARGIN + HB_H;
    const px = parent ? center(parent).x : c.x;
    const hot = onPath.has(p.dev.bdf) && (p.dev.parent === null || onPath.has(p.dev.parent));
    out.push(`<path class="link${hot ? ' on-path' : ''}" d="M${px},${py} C${px},${(py + c.top) / 2} ${c.x},${(py + c.top) / 2} ${c.x},${c.top}" fill="none" stroke="${hot ? STYLE.path : STYLE.stroke}" stroke-width="${hot ? 4 : 1.5}"/>`);
  }
  // Boxes.
  for (const p of placed.values()) {
    const d = p.dev;
    const fill = (d.role && d.role in STYLE ? STYLE[d.role as keyof typeof STYLE] : null) ?? (d.portType.includes('port') || d.portType.includes('bridge') ? STYLE.bridge : STYLE.endpoint);
    const stroke = culprits.has(d.bdf) ? STYLE.culprit : onPath.has(d.bdf) ? STYLE.path : STYLE.stroke;
    const sw = culprits.has(d.bdf) || onPath.has(d.bdf) ? 3 : 1;
    const line2 = [d.portType, d.role].filter(Boolean).join(' · ');
    const line3 = [d.link.gen !== null ? `Gen${d.link.gen} x${d.link.width ?? '?'}` : '', d.acs ? `ACS ${d.acs.ctrl.join(' ') || 'off'}` : ''].filter(Boolean).join(' · ');
    out.push(
      `<g class="device${culprits.has(d.bdf) ? ' acs-culprit' : ''}${onPath.has(d.bdf) ? ' on-path' : ''}" id="dev-${esc(d.bdf)}"><rect x="${p.x}" y="${p.y}" width="${BOX_W}" height="${BOX_H}" rx="5" fill="${fill}" stroke="${stroke}" stroke-width="${sw}"/>` +
        `<text x="${p.x + 8}" y="${p.y + 16}" font-weight="bold">${esc(d.bdf)}</text>` +
        `<text x="${p.x + 8}" y="${p.y + 31}">${esc(line2)}</text>` +
        `<text x="${p.x + 8}" y="${p.y + 45}" fill="#444">${esc(line3)}</text>` +
        `${culprits.has(d.bdf) ? `<text x="${p.x + BOX_W - 8}" y="${p.y + 16}" text-anchor="end" fill="${STYLE.culprit}" font-weight="bold">ACS redirect</text>` : ''}</g>`,
    );
  }
  // Legend and verdict.
  const ly = height - 40;
  const verdict = check ? `${check.clients.map((c) => `${c.client} → ${check.provider}: ${c.mapType}${c.distance !== null ? ` (distance ${c.distance})` : ''}${c.fix ? `; fix: ${c.fix}` : ''}`).join('  |  ')}` : 'no path requested (--path <BDF>,<BDF>)';
  out.push(`<text x="${MARGIN}" y="${ly}" class="verdict">${esc(verdict)}</text>`);
  out.push(`<text x="${MARGIN}" y="${ly + 18}" fill="#444">red: P2P path · orange: ACS redirect on the path · policy ${esc(t.policy)}, IOMMU ${t.iommu ? 'on' : 'off'}</text>`);
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}
