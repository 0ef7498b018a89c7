/**
 * PCI addresses: domain, bus, device (slot) and function, as the kernel names a function
 * (`pci_name()`: `dddd:bb:dd.f`).
 *
 * Pure helpers; every other input module (topology JSON, builder, `lspci` importer) keys
 * functions by the normalized string these produce.
 */

/** A parsed PCI function address. */
export interface Bdf {
  /** PCI domain (segment); 0 on most machines, 0x10000 and up for Intel VMD domains. */
  domain: number;
  /** Bus number 0-255. */
  bus: number;
  /** Device (slot) number 0-31. */
  slot: number;
  /** Function number 0-7. */
  fn: number;
}

/** Highest device (slot) number on a bus. */
export const PCI_MAX_SLOT = 0x1f;
/** Highest function number of a device. */
export const PCI_MAX_FN = 7;
/** Highest bus number in a domain. */
export const PCI_MAX_BUS = 0xff;
/** Highest domain number accepted (the kernel's domain is an int; lspci prints it in hex). */
export const PCI_MAX_DOMAIN = 0x7fffffff;

const BDF_RE = /^(?:([0-9a-fA-F]{1,8}):)?([0-9a-fA-F]{1,2}):([0-9a-fA-F]{1,2})\.([0-7])$/;

/**
 * Parse a BDF string.
 * @param text `dddd:bb:dd.f`, `bb:dd.f` (domain 0), or a 5-digit VMD domain such as `10000:e0:06.0`;
 *   hex digits in either case.
 * @returns the address, or `null` when the text is not a BDF or a field is out of range.
 * @kernel pci_name (the inverse of its format)
 */
export function parseBdf(text: string): Bdf | null {
  const m = BDF_RE.exec(text.trim());
  if (!m) return null;
  const domain = m[1] === undefined ? 0 : Number.parseInt(m[1], 16);
  const bus = Number.parseInt(m[2]!, 16);
  const slot = Number.parseInt(m[3]!, 16);
  const fn = Number.parseInt(m[4]!, 16);
  if (domain > PCI_MAX_DOMAIN || slot > PCI_MAX_SLOT) return null;
  return { domain, bus, slot, fn };
}

/** Two-digit lowercase hex of 0-255 (formatting is on the importers' hot path). */
const HEX2: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

function hexDomain(domain: number): string {
  return domain <= 0xffff ? HEX2[domain >> 8]! + HEX2[domain & 0xff]! : domain.toString(16);
}

/**
 * Format an address the way the kernel and lspci do.
 * @param bdf the address; the domain is printed with 4 hex digits, or more when above 0xffff.
 * @returns `dddd:bb:dd.f`, lowercase.
 * @kernel pci_name
 */
export function formatBdf(bdf: Bdf): string {
  return `${hexDomain(bdf.domain)}:${HEX2[bdf.bus & 0xff]}:${HEX2[bdf.slot & 0xff]}.${bdf.fn}`;
}

/**
 * A number identifying a function (domain, bus, devfn), for maps on hot paths.
 * @param bdf the address.
 * @returns `domain * 65536 + bus * 256 + devfn`, exact for every domain.
 */
export function bdfKey(bdf: Bdf): number {
  return bdf.domain * 0x10000 + routingId(bdf);
}

/**
 * The 8-bit device/function number.
 * @param slot device number 0-31.
 * @param fn function number 0-7.
 * @returns `slot << 3 | fn`.
 * @kernel PCI_DEVFN
 */
export function devfn(slot: number, fn: number): number {
  return ((slot & PCI_MAX_SLOT) << 3) | (fn & PCI_MAX_FN);
}

/**
 * Normalize a BDF string: add the domain `0000` when absent, lowercase it, pad it.
 * @param text any form {@link parseBdf} accepts.
 * @returns the canonical `dddd:bb:dd.f`, or `null` when the text is not a BDF.
 */
export function normalizeBdf(text: string): string | null {
  const b = parseBdf(text);
  return b === null ? null : formatBdf(b);
}

/**
 * Bus address of a function as a 16-bit routing ID (bus << 8 | devfn), as SR-IOV offsets use.
 * @param bdf the address.
 * @returns the routing ID.
 * @kernel PCI_DEVID (without the domain)
 */
export function routingId(bdf: Bdf): number {
  return (bdf.bus << 8) | devfn(bdf.slot, bdf.fn);
}

/**
 * Order two addresses by domain, bus, then devfn (the order `lspci` and enumeration list them).
 * @returns negative, zero or positive, as for `Array.prototype.sort`.
 */
export function compareBdf(a: Bdf, b: Bdf): number {
  return a.domain - b.domain || a.bus - b.bus || a.slot - b.slot || a.fn - b.fn;
}

/**
 * Format a bus as `dddd:bb`, the way the kernel names a bus (`pci_bus 0000:03`).
 * @param domain PCI domain.
 * @param bus bus number.
 */
export function formatBus(domain: number, bus: number): string {
  return `${hexDomain(domain)}:${HEX2[bus & 0xff]}`;
}
