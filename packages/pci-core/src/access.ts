/**
 * Configuration space accessors: the kernel's `pci_read_config_*` / `pci_write_config_*`.
 *
 * Reads return the value (all-ones on an error, as `PCI_SET_ERROR_RESPONSE` leaves it); writes
 * return a `PCIBIOS_*` code as the kernel does (`pcibiosErrToErrno` converts). Misaligned or
 * out-of-range offsets are `PCIBIOS_BAD_REGISTER_NUMBER`, logged at debug level; writes to
 * read-only registers are ignored and logged at debug level by the function's config space.
 * A function below a link that fault injection took down (`fabric.injectFault`, kind
 * `link-down`) is disconnected: reads return all-ones, writes `PCIBIOS_DEVICE_NOT_FOUND`.
 *
 * @kernel drivers/pci/access.c, include/linux/pci.h (PCIBIOS_*)
 */
import type { KResult } from '@p2pdma/kernel';
import { err } from '@p2pdma/kernel';
import type { PciDev } from './pci-dev';
import { pciSystem } from './pci-system';

/** Success. @kernel PCIBIOS_SUCCESSFUL */
export const PCIBIOS_SUCCESSFUL = 0x00;
/** No such function. @kernel PCIBIOS_DEVICE_NOT_FOUND */
export const PCIBIOS_DEVICE_NOT_FOUND = 0x86;
/** Misaligned or out-of-range register offset. @kernel PCIBIOS_BAD_REGISTER_NUMBER */
export const PCIBIOS_BAD_REGISTER_NUMBER = 0x87;

/** A `PCIBIOS_*` result code. */
export type PcibiosResult = typeof PCIBIOS_SUCCESSFUL | typeof PCIBIOS_DEVICE_NOT_FOUND | typeof PCIBIOS_BAD_REGISTER_NUMBER;

const PCIBIOS_ERRNO: ReadonlyMap<number, KResult> = new Map<number, KResult>([
  [PCIBIOS_SUCCESSFUL, 0],
  [PCIBIOS_DEVICE_NOT_FOUND, err('ENODEV')],
  [PCIBIOS_BAD_REGISTER_NUMBER, err('EFAULT')],
]);

/**
 * Converts a `PCIBIOS_*` code to a kernel errno.
 * @param code the code.
 * @returns `0`, `-ENODEV` (device not found), `-EFAULT` (bad register), `-ERANGE` for codes the
 *   table does not know (the kernel's default).
 * @kernel pcibios_err_to_errno
 */
export function pcibiosErrToErrno(code: number): KResult {
  return PCIBIOS_ERRNO.get(code) ?? err('ERANGE');
}

function bad(dev: PciDev, where: number, width: 1 | 2 | 4): boolean {
  if (!Number.isInteger(where) || where < 0 || where + width > dev.config.size || where % width !== 0) {
    dev.kernel.log.devDbg(dev, `config access of ${width} bytes at ${where} rejected: bad register number`);
    return true;
  }
  return false;
}

/** Whether an injected link-down fault cut the function off. @kernel pci_dev_is_disconnected */
function disconnected(dev: PciDev): boolean {
  const faults = pciSystem(dev.kernel)?.fabric.faults ?? null;
  return faults !== null && faults.unreachable(dev) !== null;
}

function read(dev: PciDev, where: number, width: 1 | 2 | 4, ones: number): number {
  return bad(dev, where, width) || disconnected(dev) ? ones : dev.config.read(where, width);
}

function write(dev: PciDev, where: number, width: 1 | 2 | 4, val: number): PcibiosResult {
  if (bad(dev, where, width)) return PCIBIOS_BAD_REGISTER_NUMBER;
  if (disconnected(dev)) return PCIBIOS_DEVICE_NOT_FOUND;
  dev.config.write(where, width, val);
  return PCIBIOS_SUCCESSFUL;
}

/**
 * Reads a config byte.
 * @param dev the function.
 * @param where offset.
 * @returns the value, or 0xff for a bad offset.
 * @kernel pci_read_config_byte
 */
export function pciReadConfigByte(dev: PciDev, where: number): number {
  return read(dev, where, 1, 0xff);
}

/**
 * Reads a config word.
 * @param dev the function.
 * @param where offset, 2-byte aligned.
 * @returns the value, or 0xffff for a bad offset.
 * @kernel pci_read_config_word
 */
export function pciReadConfigWord(dev: PciDev, where: number): number {
  return read(dev, where, 2, 0xffff);
}

/**
 * Reads a config dword.
 * @param dev the function.
 * @param where offset, 4-byte aligned.
 * @returns the value (unsigned), or 0xffffffff for a bad offset.
 * @kernel pci_read_config_dword
 */
export function pciReadConfigDword(dev: PciDev, where: number): number {
  return read(dev, where, 4, 0xffffffff);
}

/**
 * Writes a config byte.
 * @param dev the function.
 * @param where offset.
 * @param val the value.
 * @returns `PCIBIOS_SUCCESSFUL`, or `PCIBIOS_BAD_REGISTER_NUMBER` (nothing written).
 * @kernel pci_write_config_byte
 */
export function pciWriteConfigByte(dev: PciDev, where: number, val: number): PcibiosResult {
  return write(dev, where, 1, val);
}

/**
 * Writes a config word.
 * @param dev the function.
 * @param where offset, 2-byte aligned.
 * @param val the value.
 * @returns `PCIBIOS_SUCCESSFUL`, or `PCIBIOS_BAD_REGISTER_NUMBER` (nothing written).
 * @kernel pci_write_config_word
 */
export function pciWriteConfigWord(dev: PciDev, where: number, val: number): PcibiosResult {
  return write(dev, where, 2, val);
}

/**
 * Writes a config dword.
 * @param dev the function.
 * @param where offset, 4-byte aligned.
 * @param val the value.
 * @returns `PCIBIOS_SUCCESSFUL`, or `PCIBIOS_BAD_REGISTER_NUMBER` (nothing written).
 * @kernel pci_write_config_dword
 */
export function pciWriteConfigDword(dev: PciDev, where: number, val: number): PcibiosResult {
  return write(dev, where, 4, val);
}
