/**
 * The attribute helpers Linux 6.6 gives drivers for a "use P2P memory" setting (nvmet's
 * per-namespace `p2pmem`): the written value is a PCI device name (that provider), or a boolean
 * (`kstrtobool`: true = pick a provider automatically, false = off).
 *
 * Rules, as in the kernel: a name is looked up on the PCI bus first (trailing newline ignored);
 * a device without published p2pmem is refused (`PCI device has no peer-to-peer memory: <page>`,
 * `-ENODEV`). A value starting with `0` or `1` must be exactly that one character (so a
 * mistyped `0000:01:00.1` is not taken for "false"). Anything else is `No such PCI device:
 * <value>` and `-ENODEV`. There is no `auto` keyword: automatic selection is written as `1`
 * (or `y`, `on`, ...), and `auto` itself is an unknown device name.
 *
 * These helpers live in drivers/pci/p2pdma.c; the p2pdma package has no configfs users, so the
 * model keeps them with their only user.
 *
 * @kernel drivers/pci/p2pdma.c (pci_p2pdma_enable_store, pci_p2pdma_enable_show)
 */
import type { Kernel, NegErrno } from '@p2pdma/kernel';
import { err, kstrtobool } from '@p2pdma/kernel';
import type { PciDev } from '@p2pdma/pci-core';
import { PciDev as PciDevClass, pciName } from '@p2pdma/pci-core';
import { pciHasP2pmem } from '@p2pdma/p2pdma';

/** What a store selected. */
export interface P2pdmaEnableChoice {
  /** Whether P2P memory is to be used. */
  readonly use: boolean;
  /** The provider named, or `null` for automatic selection (or off). */
  readonly dev: PciDev | null;
}

/** `sysfs_streq`: equal, ignoring one trailing newline on either side. */
function sysfsStreq(a: string, b: string): boolean {
  const strip = (s: string) => (s.endsWith('\n') ? s.slice(0, -1) : s);
  return strip(a) === strip(b);
}

function isCntrl(c: string): boolean {
  if (c === '') return true;
  const code = c.charCodeAt(0);
  return code < 0x20 || code === 0x7f;
}

/**
 * Parses a written "use P2P memory" value.
 * @param kernel the kernel (its PCI devices and log).
 * @param page the text written (newline included).
 * @returns the choice, or `-ENODEV` (no such device, or a device without published p2pmem;
 *   each logged as the kernel logs it).
 * @kernel pci_p2pdma_enable_store
 */
export function pciP2pdmaEnableStore(kernel: Kernel, page: string): P2pdmaEnableChoice | NegErrno {
  const log = kernel.log;
  const dev = kernel.devices().find((d) => d instanceof PciDevClass && sysfsStreq(d.name, page));
  if (dev instanceof PciDevClass) {
    if (!pciHasP2pmem(dev)) {
      log.devErr(dev, `PCI device has no peer-to-peer memory: ${page}\n`);
      return err('ENODEV');
    }
    return { use: true, dev };
  }
  const c0 = page.charAt(0);
  if (!((c0 === '0' || c0 === '1') && !isCntrl(page.charAt(1)))) {
    const b = kstrtobool(page);
    if (typeof b === 'boolean') return { use: b, dev: null };
  }
  const nl = page.indexOf('\n');
  log.prErr(`pci-p2pdma: No such PCI device: ${nl < 0 ? page : page.slice(0, nl)}`);
  return err('ENODEV');
}

/**
 * Renders a "use P2P memory" setting.
 * @param dev the provider named, or `null`.
 * @param use whether P2P memory is used.
 * @returns `0\n` (off), `1\n` (automatic) or `<pci name>\n`.
 * @kernel pci_p2pdma_enable_show
 */
export function pciP2pdmaEnableShow(dev: PciDev | null, use: boolean): string {
  if (!use) return '0\n';
  if (dev === null) return '1\n';
  return `${pciName(dev)}\n`;
}
