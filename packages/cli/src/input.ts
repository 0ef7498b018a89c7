/**
 * Loading a topology operand: `builtin:<name>`, a topology JSON file, or `lspci -vvv -nn` text
 * (detected by content). Every failure is a one-line {@link UsageError} naming the input.
 */
import { readFileSync } from 'node:fs';
import {
  type DeviceSpec,
  type PciePortType,
  type TopologySpec,
  builtinNames,
  formatBus,
  formatTopologyErrors,
  getBuiltin,
  importLspci,
  isLspciText,
  parseBdf,
  parseTopologyJson,
} from '@p2pdma/pci-core';
import { UsageError } from './args';

/** A loaded topology with where it came from and what its importer could not know. */
export interface LoadedTopology {
  spec: TopologySpec;
  /** The operand as given (`builtin:seed-switch`, a path). */
  source: string;
  /** `builtin`, `json` or `lspci`. */
  format: 'builtin' | 'json' | 'lspci';
  warnings: string[];
}

/**
 * Load the topology an operand names.
 * @param operand `builtin:<name>`, or a path to a topology JSON or an `lspci` text file
 * @returns the validated topology description
 * @throws UsageError (one line) for an unknown built-in, an unreadable file or invalid content
 */
export function loadTopology(operand: string): LoadedTopology {
  if (operand.startsWith('builtin:')) {
    const name = operand.slice('builtin:'.length);
    const spec = getBuiltin(name);
    if (!spec) throw new UsageError(`unknown builtin '${name}' (known: ${builtinNames().join(', ')})`);
    return { spec, source: operand, format: 'builtin', warnings: [...(spec.warnings ?? [])] };
  }
  let text: string;
  try {
    text = readFileSync(operand, 'latin1');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : String(code ?? e);
    throw new UsageError(`cannot read '${operand}': ${why}`);
  }
  if (/^\s*[{[]/.test(text)) {
    const r = parseTopologyJson(text, operand);
    if (!r.ok) throw new UsageError(firstLine(formatTopologyErrors(r.errors, operand)));
    return { spec: r.spec, source: operand, format: 'json', warnings: [...(r.spec.warnings ?? [])] };
  }
  if (!isLspciText(text)) {
    throw new UsageError(`'${operand}' is neither topology JSON nor lspci output`);
  }
  const r = importLspci(text, operand);
  if (!r.ok) throw new UsageError(firstLine(r.error));
  refuseBridgelessDump(r.spec, operand);
  return { spec: r.spec, source: operand, format: 'lspci', warnings: r.warnings };
}

/**
 * Express port types that exist only below a root port or a switch downstream port (PCIe Base
 * Spec 7.5.3.2: an endpoint on a root bus is a Root Complex Integrated Endpoint, a different type).
 * One of them on a root bus of an imported dump means the dump lacks the bridges above it.
 */
const NEEDS_BRIDGE_ABOVE: ReadonlySet<PciePortType> = new Set<PciePortType>(['endpoint', 'legacy-endpoint']);

/**
 * Refuse an lspci dump whose endpoints sit on buses that no bridge in the dump connects: the
 * importer gives each such bus a host bridge of its own (with a warning), so every path between
 * them would run through made-up root complexes and every P2P answer would be fiction. A dump that
 * lacks only the path above a switch (an upstream port on such a bus, e.g. an `lspci -s` excerpt
 * of one card) is kept: the switch and everything below it are real.
 * @param spec the imported topology
 * @param operand the file name, for the message
 * @throws UsageError naming the first such endpoint and bus and how many buses are affected
 */
function refuseBridgelessDump(spec: TopologySpec, operand: string): void {
  const rootBuses = new Set(spec.hostBridges.map((h) => formatBus(h.domain, h.bus)));
  const orphans = new Map<string, DeviceSpec>();
  for (const d of spec.devices) {
    if (d.pcie === undefined || !NEEDS_BRIDGE_ABOVE.has(d.pcie.portType)) continue;
    const b = parseBdf(d.bdf);
    if (b === null) continue;
    const bus = formatBus(b.domain, b.bus);
    if (rootBuses.has(bus) && !orphans.has(bus)) orphans.set(bus, d);
  }
  const first = orphans.entries().next();
  if (first.done) return;
  const [bus, dev] = first.value;
  const more = orphans.size - 1;
  throw new UsageError(
    `'${operand}': no bridge in the dump connects bus ${bus}, where ${dev.pcie!.portType.replace('-', ' ')} ${dev.bdf} sits${more > 0 ? ` (nor ${more} other bus${more === 1 ? '' : 'es'} with endpoints)` : ''}: the dump lacks the PCI bridges above its devices; save the whole 'lspci -vvv -nn' output`,
  );
}

function firstLine(s: string): string {
  const lines = s.split('\n').filter((l) => l.trim());
  if (lines.length <= 1) return lines[0] ?? s;
  return `${lines[0]} ${lines.slice(1).map((l) => l.trim()).join('; ')}`;
}
