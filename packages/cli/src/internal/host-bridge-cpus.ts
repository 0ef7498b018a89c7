/**
 * What a host bridge's identifying function says about the CPU, for `--cpu` inference. The
 * upstream AMD rule (`cpu_supports_p2pdma`) reads the CPU's vendor and family, which an lspci dump
 * does not show; the host bridge function on the root bus (`pci_host_bridge_dev`) is the closest
 * thing it does show. No package below the command keeps such a table: pci-core's lspci importer
 * maps a few vendor IDs to a CPU vendor but leaves the family unknown (so it can never say "Zen"),
 * and p2pdma's whitelist lists Intel host bridges for another purpose. So the table lives here.
 *
 * Device IDs and names are those of the PCI ID database (pci.ids), as `lspci -nn` prints them.
 */
import type { CpuSpec } from '@p2pdma/pci-core';

/** A `--cpu` value. */
export type CpuChoice = 'amd-zen' | 'intel' | 'other';

/** PCI vendor ID of AMD. */
export const PCI_VENDOR_ID_AMD = 0x1022;

/** A host bridge vendor and what it says about the CPU. */
export interface HostBridgeVendor {
  /** PCI vendor ID (`lspci -nn`, topology JSON). */
  readonly vendor: number;
  /** The vendor name as lspci prints it without -nn. */
  readonly name: RegExp;
  /** The `--cpu` value, unless a device entry ({@link ZEN_ROOT_COMPLEXES}) refines it. */
  readonly cpu: CpuChoice;
  /** How the CPU is described when nothing refines it. */
  readonly description: string;
}

/** Host bridge vendors that name the CPU, in lookup order. */
export const HOST_BRIDGE_VENDORS: readonly HostBridgeVendor[] = [
  { vendor: 0x8086, name: /^Intel Corporation\b/, cpu: 'intel', description: 'Intel' },
  { vendor: PCI_VENDOR_ID_AMD, name: /^Advanced Micro Devices\b/, cpu: 'other', description: 'AMD, not a root complex known to be Zen' },
  { vendor: 0x1014, name: /^IBM\b/, cpu: 'other', description: 'IBM (POWER)' },
];

/** An AMD root complex of family 17h or later (Zen), by device ID and pci.ids name. */
export interface ZenRootComplex {
  /** PCI device ID (vendor 1022). */
  readonly device: number;
  /** Its pci.ids name, as lspci prints it without -nn. */
  readonly name: string;
  /** The processors that carry it. */
  readonly platform: string;
}

/** AMD root complexes (the 00:00.0 host bridge function) of Zen processors (x86 family 17h and later). */
export const ZEN_ROOT_COMPLEXES: readonly ZenRootComplex[] = [
  { device: 0x1450, name: 'Family 17h (Models 00h-0fh) Root Complex', platform: 'Zen, Zen+ (Summit Ridge, Pinnacle Ridge, Naples, Threadripper 1000/2000)' },
  { device: 0x15d0, name: 'Raven/Raven2 Root Complex', platform: 'Zen, Zen+ APUs (Raven Ridge, Picasso)' },
  { device: 0x1480, name: 'Starship/Matisse Root Complex', platform: 'Zen 2, Zen 3 (Rome, Matisse, Milan, Vermeer)' },
  { device: 0x1630, name: 'Renoir/Cezanne Root Complex', platform: 'Zen 2, Zen 3 APUs (Renoir, Cezanne)' },
  { device: 0x14d8, name: 'Raphael/Granite Ridge Root Complex', platform: 'Zen 4, Zen 5 desktop (Raphael, Granite Ridge)' },
  { device: 0x14e8, name: 'Phoenix Root Complex', platform: 'Zen 4 mobile (Phoenix)' },
];

/** What each `--cpu` value sets in the topology (the AMD rule reads vendor and family; Zen is family 0x17 and later). */
export const CPU_SPECS: Readonly<Record<CpuChoice, CpuSpec>> = {
  'amd-zen': { vendor: 'amd', family: 0x17 },
  intel: { vendor: 'intel' },
  other: { vendor: 'other' },
};

/** How each `--cpu` value is written in text output. */
export const CPU_NAMES: Readonly<Record<CpuChoice, string>> = {
  'amd-zen': 'AMD Zen',
  intel: 'Intel',
  other: 'other',
};
