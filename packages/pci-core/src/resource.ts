/**
 * Resources: the kernel's `struct resource` for BARs, bridge windows and host bridge windows,
 * with the `IORESOURCE_*` flags and the `%pR` rendering used in log lines.
 *
 * Addresses are CPU physical addresses (for I/O resources: port numbers); `end` is inclusive, as
 * in the kernel. An unused resource has `start = end = 0` and `flags = 0`.
 *
 * @kernel include/linux/ioport.h, lib/vsprintf.c (resource_string)
 */

/** I/O port space. @kernel IORESOURCE_IO */
export const IORESOURCE_IO = 0x00000100;
/** Memory space. @kernel IORESOURCE_MEM */
export const IORESOURCE_MEM = 0x00000200;
/** Bus number range. @kernel IORESOURCE_BUS */
export const IORESOURCE_BUS = 0x00001000;
/** Prefetchable memory. @kernel IORESOURCE_PREFETCH */
export const IORESOURCE_PREFETCH = 0x00002000;
/** Size-aligned resource (a BAR). @kernel IORESOURCE_SIZEALIGN */
export const IORESOURCE_SIZEALIGN = 0x00040000;
/** Start-aligned resource (a bridge window). @kernel IORESOURCE_STARTALIGN */
export const IORESOURCE_STARTALIGN = 0x00080000;
/** 64-bit memory BAR or window. @kernel IORESOURCE_MEM_64 */
export const IORESOURCE_MEM_64 = 0x00100000;
/** A host bridge or bridge window forwarding to a bus. @kernel IORESOURCE_WINDOW */
export const IORESOURCE_WINDOW = 0x00200000;
/** The resource is disabled. @kernel IORESOURCE_DISABLED */
export const IORESOURCE_DISABLED = 0x10000000;
/** Address not assigned yet (only the size is meaningful). @kernel IORESOURCE_UNSET */
export const IORESOURCE_UNSET = 0x20000000;

/** Index of the expansion ROM resource. @kernel PCI_ROM_RESOURCE */
export const PCI_ROM_RESOURCE = 6;
/** First SR-IOV VF BAR resource. @kernel PCI_IOV_RESOURCES */
export const PCI_IOV_RESOURCES = 7;
/** First bridge window resource. @kernel PCI_BRIDGE_RESOURCES */
export const PCI_BRIDGE_RESOURCES = 13;
/** Bridge I/O window resource. @kernel PCI_BRIDGE_IO_WINDOW */
export const PCI_BRIDGE_IO_WINDOW = 13;
/** Bridge non-prefetchable memory window resource. @kernel PCI_BRIDGE_MEM_WINDOW */
export const PCI_BRIDGE_MEM_WINDOW = 14;
/** Bridge prefetchable memory window resource. @kernel PCI_BRIDGE_PREF_MEM_WINDOW */
export const PCI_BRIDGE_PREF_MEM_WINDOW = 15;
/** Resources per function. @kernel PCI_NUM_RESOURCES */
export const PCI_NUM_RESOURCES = 17;
/** Standard BARs per type 0 function. @kernel PCI_STD_NUM_BARS */
export const PCI_STD_NUM_BARS = 6;

/**
 * A resource. Mutable only by enumeration; everybody else reads it.
 * @kernel struct resource
 */
export interface PciResource {
  /** First address (CPU physical for memory). */
  start: number;
  /** Last address, inclusive. */
  end: number;
  /** `IORESOURCE_*` flags; 0 for an unused slot. */
  flags: number;
}

/**
 * A fresh unused resource.
 * @returns `{ start: 0, end: 0, flags: 0 }`.
 */
export function emptyResource(): PciResource {
  return { start: 0, end: 0, flags: 0 };
}

/**
 * Size of a resource.
 * @param r the resource.
 * @returns `end - start + 1`, or 0 for an unused resource (`end === 0`, as `pci_resource_len`).
 * @kernel resource_size / pci_resource_len
 */
export function resourceSize(r: PciResource): number {
  return r.end === 0 ? 0 : r.end - r.start + 1;
}

/**
 * The resource's type bits.
 * @param r the resource.
 * @returns `IORESOURCE_IO`, `IORESOURCE_MEM`, `IORESOURCE_BUS` or 0.
 * @kernel resource_type
 */
export function resourceType(r: PciResource): number {
  return r.flags & (IORESOURCE_IO | IORESOURCE_MEM | IORESOURCE_BUS);
}

function hexPad(n: number, digits: number): string {
  return n.toString(16).padStart(digits, '0');
}

/**
 * Renders a resource as `%pR` does: `[mem 0xc0000000-0xc1ffffff 64bit pref]`,
 * `[io  0x1000-0x1fff]`, `[bus 03-05]`, `[mem size 0x00100000]` for an unset one.
 * @param r the resource.
 * @returns the rendering.
 * @kernel resource_string (%pR)
 */
export function formatResource(r: PciResource): string {
  let kind: string;
  let num: (n: number) => string;
  let decode = true;
  if (r.flags & IORESOURCE_IO) {
    kind = 'io  ';
    num = (n) => `0x${hexPad(n, 4)}`;
  } else if (r.flags & IORESOURCE_MEM) {
    kind = 'mem ';
    num = (n) => `0x${hexPad(n, 8)}`;
  } else if (r.flags & IORESOURCE_BUS) {
    kind = 'bus ';
    num = (n) => hexPad(n, 2);
  } else {
    kind = '??? ';
    num = (n) => `0x${hexPad(n, 8)}`;
    decode = false;
  }
  let out = `[${kind}`;
  if (decode && r.flags & IORESOURCE_UNSET) out += `size ${num(resourceSize(r))}`;
  else {
    out += num(r.start);
    if (r.start !== r.end) out += `-${num(r.end)}`;
  }
  if (decode) {
    if (r.flags & IORESOURCE_MEM_64) out += ' 64bit';
    if (r.flags & IORESOURCE_PREFETCH) out += ' pref';
    if (r.flags & IORESOURCE_WINDOW) out += ' window';
    if (r.flags & IORESOURCE_DISABLED) out += ' disabled';
  } else {
    out += ` flags 0x${r.flags.toString(16)}`;
  }
  return `${out}]`;
}
