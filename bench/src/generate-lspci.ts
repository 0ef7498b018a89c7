/**
 * A large `lspci -vvv` dump made of real records: the shared fixtures' records are replicated
 * under fresh, consistent bus numbers until the text reaches the requested size.
 *
 * Templates (each a whole record, every line kept byte for byte except the addresses):
 * - `dell-13g-2s-e5v4-p100` (`lspci -vvv` as root): the Xeon E5 v4 DMI2 host bridge `00:00.0`,
 *   the CPU root port `00:02.0` (ACS capability), and the endpoints: Tesla P100 `04:00.0`,
 *   MegaRAID `03:00.0`, the two functions of the BCM5720 NIC `01:00.0`/`01:00.1`;
 * - `asm1812-4x-rtl8125-excerpt` (`lspci -vvv` as root): the ASM1812 switch's upstream port
 *   `03:00.0`, its downstream port `04:00.0` (ACS capability) and the RTL8125 NIC `07:00.0`.
 *
 * Tree per PCI domain (`dddd:` prefixes, as `lspci -D` prints them): the host bridge at 00:00.0,
 * root ports at 00:01.0 and up, below each a switch (upstream port on the root port's bus, its
 * downstream ports on the switch's internal bus) and one endpoint device per downstream port,
 * cycling through the endpoint templates. Every bridge's `Bus: primary=, secondary=,
 * subordinate=` line is rewritten to the new numbers, so the dump describes a valid tree.
 *
 * The fixtures carry no `-nn` numeric IDs (their sources did not use `-nn`), so neither does the
 * dump: the importer takes the same record paths, minus the ID parsing.
 */
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** One template record: its text without the address, and what it is. */
interface Template {
  /** Record lines after the header's address (header remainder first). */
  readonly lines: readonly string[];
  /** Index of the `Bus: primary=...` line (bridges), else -1. */
  readonly busLine: number;
}

/** The templates a dump is built from. */
interface Templates {
  readonly hostBridge: Template;
  readonly rootPort: Template;
  readonly switchUp: Template;
  readonly switchDown: Template;
  /** Endpoint devices: each a list of functions (function number = position). */
  readonly endpoints: readonly (readonly Template[])[];
}

/** Options of `generateLspci`. */
export interface LspciDumpOptions {
  /** Stop adding root ports once the text has at least this many bytes (default 4 MiB). */
  readonly targetBytes?: number;
  /** Downstream ports per switch (default 6, as the ASM1812 has). */
  readonly switchPorts?: number;
  /** The folder holding the fixture dumps (default: `../shared/fixtures/lspci` beside the repository). */
  readonly fixturesDir?: string;
}

/** A generated dump. */
export interface LspciDump {
  /** The text. */
  readonly text: string;
  /** Its size in bytes (UTF-8). */
  readonly bytes: number;
  /** Records (PCI functions) in it. */
  readonly functions: number;
  /** PCI domains (host bridges) used. */
  readonly domains: number;
}

const HEADER_RE = /^(?:[0-9a-f]{4,8}:)?[0-9a-f]{2}:[0-9a-f]{2}\.[0-7] /;
const BUS_RE = /^(\tBus: primary=)[0-9a-f]{2}, secondary=[0-9a-f]{2}, subordinate=[0-9a-f]{2}(.*)$/;
/** Bus numbers of a domain. */
const BUSES_PER_DOMAIN = 256;
/** Device numbers of a bus (root ports use 1..31; 0 is the host bridge). */
const SLOTS_PER_BUS = 32;

/**
 * The shared fixtures folder of this checkout: `<repository>/../shared/fixtures/lspci`.
 * @param from a folder inside the repository (default: this module's).
 * @returns the path.
 * @throws Error when no repository root (a folder with `pnpm-workspace.yaml`) is above `from`.
 */
export function defaultFixturesDir(from: string = dirname(fileURLToPath(import.meta.url))): string {
  let dir = from;
  while (!existsSync(join(dir, 'pnpm-workspace.yaml'))) {
    const up = dirname(dir);
    if (up === dir) throw new Error(`generateLspci: no repository root (pnpm-workspace.yaml) above ${from}`);
    dir = up;
  }
  return resolve(dir, '..', 'shared', 'fixtures', 'lspci');
}

/** Splits a dump into records keyed by their address as printed (`03:00.0`). */
function records(text: string, source: string): Map<string, Template> {
  const out = new Map<string, Template>();
  const lines = text.replace(/\r\n/g, '\n').split('\n');
  let cur: { addr: string; lines: string[] } | null = null;
  const flush = (): void => {
    if (cur === null) return;
    while (cur.lines.length > 0 && cur.lines[cur.lines.length - 1]!.trim() === '') cur.lines.pop();
    out.set(cur.addr, { lines: cur.lines, busLine: cur.lines.findIndex((l) => BUS_RE.test(l)) });
    cur = null;
  };
  for (const line of lines) {
    const m = HEADER_RE.exec(line);
    if (m !== null) {
      flush();
      cur = { addr: m[0].trim(), lines: [line.slice(m[0].length)] };
    } else if (cur !== null) cur.lines.push(line);
  }
  flush();
  if (out.size === 0) throw new Error(`generateLspci: ${source} has no lspci device records`);
  return out;
}

function pick(recs: Map<string, Template>, addr: string, source: string, bridge: boolean): Template {
  const t = recs.get(addr);
  if (t === undefined) throw new Error(`generateLspci: ${source} has no record ${addr}`);
  if (bridge !== t.busLine >= 0) throw new Error(`generateLspci: ${source} record ${addr} is ${bridge ? 'not ' : ''}a bridge (Bus: line ${bridge ? 'missing' : 'present'})`);
  return t;
}

function loadTemplates(dir: string): Templates {
  const dellName = 'dell-13g-2s-e5v4-p100.txt';
  const asmName = 'asm1812-4x-rtl8125-excerpt.txt';
  const dell = records(readFileSync(join(dir, dellName), 'latin1'), dellName);
  const asm = records(readFileSync(join(dir, asmName), 'latin1'), asmName);
  return {
    hostBridge: pick(dell, '00:00.0', dellName, false),
    rootPort: pick(dell, '00:02.0', dellName, true),
    switchUp: pick(asm, '03:00.0', asmName, true),
    switchDown: pick(asm, '04:00.0', asmName, true),
    endpoints: [
      [pick(dell, '04:00.0', dellName, false)],
      [pick(asm, '07:00.0', asmName, false)],
      [pick(dell, '03:00.0', dellName, false)],
      [pick(dell, '01:00.0', dellName, false), pick(dell, '01:00.1', dellName, false)],
    ],
  };
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** Appends one record at an address, with the bridge's bus numbers when given. */
function emit(out: string[], t: Template, domain: number, bus: number, slot: number, fn: number, buses: readonly [number, number, number] | null): void {
  out.push(`${hex(domain, 4)}:${hex(bus, 2)}:${hex(slot, 2)}.${fn} ${t.lines[0]!}`);
  for (let i = 1; i < t.lines.length; i++) {
    const line = t.lines[i]!;
    if (i === t.busLine && buses !== null) {
      out.push(line.replace(BUS_RE, (_all, head: string, tail: string) => `${head}${hex(buses[0], 2)}, secondary=${hex(buses[1], 2)}, subordinate=${hex(buses[2], 2)}${tail}`));
    } else out.push(line);
  }
  out.push('');
}

/**
 * Builds a dump of at least `targetBytes` from the real fixture records.
 * @param opts size, switch fan-out, fixtures folder.
 * @returns the text and what it holds.
 * @throws Error when a fixture or template record is missing, or `switchPorts` is outside 1..32.
 */
export function generateLspci(opts: LspciDumpOptions = {}): LspciDump {
  const targetBytes = opts.targetBytes ?? 4 * 2 ** 20;
  const ports = opts.switchPorts ?? 6;
  if (!Number.isInteger(ports) || ports < 1 || ports > SLOTS_PER_BUS) throw new RangeError(`generateLspci: switchPorts must be 1..32, got ${ports}`);
  if (!(targetBytes > 0)) throw new RangeError(`generateLspci: targetBytes must be positive, got ${targetBytes}`);
  const t = loadTemplates(opts.fixturesDir ?? defaultFixturesDir());
  const out: string[] = [];
  let bytes = 0;
  let functions = 0;
  let domain = -1;
  let nextBus = BUSES_PER_DOMAIN;
  let slot = SLOTS_PER_BUS;
  let endpoint = 0;
  const perRootPort = 2 + ports; // the root port's link, the switch's internal bus, one per downstream port
  while (bytes < targetBytes) {
    if (slot >= SLOTS_PER_BUS || nextBus + perRootPort > BUSES_PER_DOMAIN) {
      domain++;
      nextBus = 1;
      slot = 1;
      const start = out.length;
      emit(out, t.hostBridge, domain, 0, 0, 0, null);
      functions++;
      for (let i = start; i < out.length; i++) bytes += out[i]!.length + 1;
    }
    const start = out.length;
    const link = nextBus;
    const internal = link + 1;
    const last = internal + ports;
    emit(out, t.rootPort, domain, 0, slot++, 0, [0, link, last]);
    emit(out, t.switchUp, domain, link, 0, 0, [link, internal, last]);
    functions += 2;
    for (let p = 0; p < ports; p++) {
      const below = internal + 1 + p;
      emit(out, t.switchDown, domain, internal, p, 0, [internal, below, below]);
      const dev = t.endpoints[endpoint++ % t.endpoints.length]!;
      dev.forEach((f, fn) => {
        emit(out, f, domain, below, 0, fn, null);
      });
      functions += 1 + dev.length;
    }
    nextBus = last + 1;
    for (let i = start; i < out.length; i++) bytes += out[i]!.length + 1;
  }
  const text = out.join('\n');
  return { text, bytes: Buffer.byteLength(text, 'utf8'), functions, domains: domain + 1 };
}
