/**
 * Small text helpers shared by the commands' human output.
 */
import {
  acsBitNames,
  PCI_ACS_CAP,
  PCI_ACS_CTRL,
  PCI_EXP_TYPE_DOWNSTREAM,
  PCI_EXP_TYPE_ENDPOINT,
  PCI_EXP_TYPE_LEG_END,
  PCI_EXP_TYPE_PCI_BRIDGE,
  PCI_EXP_TYPE_PCIE_BRIDGE,
  PCI_EXP_TYPE_RC_EC,
  PCI_EXP_TYPE_RC_END,
  PCI_EXP_TYPE_ROOT_PORT,
  PCI_EXP_TYPE_UPSTREAM,
  type PciDev,
  pciReadConfigWord,
} from '@p2pdma/pci-core';

/** Class code (base class and subclass) of a host bridge function. */
const PCI_CLASS_BRIDGE_HOST = 0x0600;

/** Port type names by the Express capability's type field, as the CLI prints them. */
export const PORT_TYPE_NAMES: Readonly<Record<number, string>> = {
  [PCI_EXP_TYPE_ENDPOINT]: 'endpoint',
  [PCI_EXP_TYPE_LEG_END]: 'legacy endpoint',
  [PCI_EXP_TYPE_ROOT_PORT]: 'root port',
  [PCI_EXP_TYPE_UPSTREAM]: 'upstream port',
  [PCI_EXP_TYPE_DOWNSTREAM]: 'downstream port',
  [PCI_EXP_TYPE_PCI_BRIDGE]: 'PCIe-to-PCI bridge',
  [PCI_EXP_TYPE_PCIE_BRIDGE]: 'PCI-to-PCIe bridge',
  [PCI_EXP_TYPE_RC_END]: 'RC-integrated endpoint',
  [PCI_EXP_TYPE_RC_EC]: 'RC event collector',
};

/**
 * The function's port type as text.
 * @param dev the function
 * @returns the Express type name, `PCI bridge`/`PCI device` for conventional functions
 */
export function portTypeName(dev: PciDev): string {
  if (dev.classCode !== null && dev.classCode >> 8 === PCI_CLASS_BRIDGE_HOST) return 'host bridge';
  if (dev.pcieType === null) return dev.hdrType === 1 ? 'PCI bridge' : 'PCI device';
  return PORT_TYPE_NAMES[dev.pcieType] ?? `type ${dev.pcieType}`;
}

/**
 * `[vvvv:dddd]`, or `[????:????]` where the input had no numeric IDs.
 * @param dev the function
 * @returns the bracketed IDs
 */
export function idsOf(dev: PciDev): string {
  const h = (n: number | null) => (n === null ? '????' : n.toString(16).padStart(4, '0'));
  return `[${h(dev.vendor)}:${h(dev.device)}]`;
}

/** ACS state of one function read from its config space. */
export interface AcsState {
  cap: string[];
  ctrl: string[];
}

/**
 * Read a function's ACS capability and control bits.
 * @param dev the function
 * @returns the bit names, or null when it has no ACS capability
 */
export function acsStateOf(dev: PciDev): AcsState | null {
  if (!dev.acsCap) return null;
  const cap = pciReadConfigWord(dev, dev.acsCap + PCI_ACS_CAP);
  const ctrl = pciReadConfigWord(dev, dev.acsCap + PCI_ACS_CTRL);
  return { cap: acsBitNames(cap), ctrl: acsBitNames(ctrl) };
}

/**
 * Bytes as a short human string with binary units (`16K`, `256M`, `1.5G`).
 * @param n a byte count
 * @returns the text
 */
export function humanBytes(n: number): string {
  const units = ['', 'K', 'M', 'G', 'T'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  const s = Number.isInteger(v) ? String(v) : v.toFixed(1);
  return `${s}${units[i]}`;
}
