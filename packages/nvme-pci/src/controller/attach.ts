/**
 * Putting controller models on a machine: every NVMe function of an enumerated topology (role
 * `nvme`, or class 01 08 02) gets a controller described by its topology hints (`nvme.cmb`),
 * the pseudo-CMB layout when it is one of the adaptors that have it, and per-function overrides.
 *
 * @kernel (hardware) the NVMe devices present in the machine
 */
import type { PciDev, PciSubsystem } from '@p2pdma/pci-core';
import type { NvmeControllerConfig } from './controller-config';
import { NVME_PSEUDO_CMB_ADAPTERS, NvmeConfigError, resolveNvmeConfig } from './controller-config';
import type { NvmeController } from './nvme-controller';
import { attachNvmeController } from './nvme-controller';

/** Class code of an NVMe controller (mass storage, non-volatile memory, NVMe). @kernel PCI_CLASS_STORAGE_EXPRESS << 8 | 0x02 */
export const PCI_CLASS_NVME = 0x010802;

/**
 * Whether a function is an NVMe controller.
 * @param pdev the function.
 * @returns `true` for role `nvme` or class 01 08 02.
 */
export function isNvmeFunction(pdev: PciDev): boolean {
  return pdev.role === 'nvme' || pdev.classCode === PCI_CLASS_NVME;
}

/**
 * The description a function's topology entry implies: its CMB hint, or the pseudo-CMB BAR of
 * the adaptors that have one.
 * @param pdev the function.
 * @returns the description (possibly empty: defaults).
 */
export function nvmeConfigFromSpec(pdev: PciDev): NvmeControllerConfig {
  const out: NvmeControllerConfig = {};
  const cmb = pdev.spec.nvme?.cmb;
  if (cmb !== undefined) out.cmb = { bar: cmb.bar, size: cmb.size, offset: cmb.offset ?? 0, flags: [...cmb.flags] };
  const pseudo = NVME_PSEUDO_CMB_ADAPTERS.find((a) => a.vendor === pdev.vendor && a.device === pdev.device);
  if (pseudo !== undefined && cmb === undefined) out.pseudoCmbBar = pseudo.bar;
  return out;
}

/**
 * Attaches a controller model to every NVMe function of a machine, in device order.
 * @param sys the enumerated subsystem.
 * @param overrides descriptions by BDF (`0000:03:00.0` or `03:00.0`), merged over the
 *   topology's; an override's `cmb` replaces the hint.
 * @returns the controllers.
 * @throws NvmeConfigError for a bad description or an override naming no NVMe function (before
 *   anything is attached).
 */
export function attachNvmeControllers(sys: PciSubsystem, overrides: Readonly<Record<string, NvmeControllerConfig>> = {}): NvmeController[] {
  const byDev = new Map<PciDev, NvmeControllerConfig>();
  for (const [bdf, cfg] of Object.entries(overrides)) {
    const pdev = sys.findByBdf(bdf);
    if (pdev === null || !isNvmeFunction(pdev)) {
      throw new NvmeConfigError(bdf, 'device', 'no NVMe function at this address');
    }
    byDev.set(pdev, cfg);
  }
  const plan = sys.deviceList.filter(isNvmeFunction).map((pdev) => ({ pdev, cfg: { ...nvmeConfigFromSpec(pdev), ...(byDev.get(pdev) ?? {}) } }));
  for (const { pdev, cfg } of plan) resolveNvmeConfig(pdev.name, cfg); // validate all before attaching any
  return plan.map(({ pdev, cfg }) => attachNvmeController(pdev, cfg));
}
