/**
 * IOMMU groups for PCI functions, exactly as Linux 6.6's `pci_device_group` forms them:
 *
 * 1. DMA aliases: walking up from the function, a PCIe-to-PCI bridge makes everything behind it
 *    use the bridge's requester ID, so the function joins the group of the last alias found
 *    (root and switch ports do not alias; a conventional PCI bridge aliases to itself).
 * 2. From there, up the hierarchy until a bridge whose whole path to the root bus has ACS
 *    SV, RR, CR and UF enabled (`pci_acs_path_enabled`); every bridge passed on the way is a
 *    point where the function is not isolated, and an existing group there is joined.
 * 3. Functions aliasing each other by quirk (`dma_alias_mask`), then functions of the same slot
 *    without ACS (`get_pci_function_alias_group`), share a group.
 * 4. Otherwise a new group.
 *
 * Devices are grouped in `pci_get_device` order, so a bridge always has its group before the
 * functions below it. A known property of this 6.6 algorithm, reproduced here: the group of a
 * switch downstream port is decided by the path above the switch, so with ACS off on the
 * downstream ports each port and what hangs below it form one group per port, not one group for
 * the whole switch (fixed upstream in 2025 by "iommu: Compute iommu_groups properly for PCIe
 * switches").
 *
 * Groups are formed only when the IOMMU is on; `computeIommuGroups` answers "what would the
 * groups be" without touching the kernel (the CLI's what-if).
 *
 * @kernel drivers/iommu/iommu.c (pci_device_group, get_pci_alias_group,
 *   get_pci_function_alias_group), drivers/pci/search.c (pci_for_each_dma_alias)
 */
import type { IommuGroup, Kernel } from '@p2pdma/kernel';
import { pciAcsEnabled, pciAcsPathEnabled, REQ_ACS_FLAGS } from './acs';
import { PCI_EXP_TYPE_DOWNSTREAM, PCI_EXP_TYPE_PCI_BRIDGE, PCI_EXP_TYPE_PCIE_BRIDGE, PCI_EXP_TYPE_ROOT_PORT, PCI_EXP_TYPE_UPSTREAM } from './capability';
import type { PciDev } from './pci-dev';
import { PCI_DEVFN, PCI_SLOT, pciIsPcie } from './pci-dev';
import type { IommuGroupInfo, PciSubsystem } from './pci-system';

/** How each bridge type aliases the requester IDs of functions below it. */
const ALIAS_BY_TYPE: ReadonlyMap<number, 'none' | 'subordinate' | 'self'> = new Map([
  [PCI_EXP_TYPE_ROOT_PORT, 'none'],
  [PCI_EXP_TYPE_UPSTREAM, 'none'],
  [PCI_EXP_TYPE_DOWNSTREAM, 'none'],
  [PCI_EXP_TYPE_PCI_BRIDGE, 'subordinate'],
  [PCI_EXP_TYPE_PCIE_BRIDGE, 'self'],
]);

/**
 * Calls `fn` for the function's requester ID, its quirk aliases, and each bridge above it that
 * takes over requester IDs, stopping at the first `true`.
 * @param pdev the function.
 * @param fn called with the device the ID belongs to and the 16-bit alias (bus << 8 | devfn).
 * @returns the first `true`, else `false`.
 * @kernel pci_for_each_dma_alias
 */
export function pciForEachDmaAlias(pdev: PciDev, fn: (dev: PciDev, alias: number) => boolean): boolean {
  if (fn(pdev, (pdev.pciBus.number << 8) | pdev.devfn)) return true;
  for (const devfn of pdev.dmaAliasDevfns) if (fn(pdev, (pdev.pciBus.number << 8) | devfn)) return true;
  for (let bus = pdev.pciBus; bus.parent !== null; bus = bus.parent) {
    const tmp = bus.self;
    if (tmp === null) continue;
    if (pciIsPcie(tmp)) {
      const how = tmp.pcieType === null ? undefined : ALIAS_BY_TYPE.get(tmp.pcieType);
      if (how === 'subordinate' && fn(tmp, (tmp.subordinate!.number << 8) | PCI_DEVFN(0, 0))) return true;
      if (how === 'self' && fn(tmp, (tmp.pciBus.number << 8) | tmp.devfn)) return true;
    } else if (fn(tmp, (tmp.pciBus.number << 8) | tmp.devfn)) {
      return true;
    }
  }
  return false;
}

/**
 * Whether two functions alias each other by quirk (either's `dmaAliasDevfns` names the other).
 * @param a a function.
 * @param b another function.
 * @returns `true` when they are DMA aliases.
 * @kernel pci_devs_are_dma_aliases
 */
export function pciDevsAreDmaAliases(a: PciDev, b: PciDev): boolean {
  return a.dmaAliasDevfns.has(b.devfn) || b.dmaAliasDevfns.has(a.devfn);
}

function aliasGroup<G>(all: readonly PciDev[], pdev: PciDev, devfns: Set<number>, groupOf: (d: PciDev) => G | null): G | null {
  if (devfns.has(pdev.devfn)) return null;
  devfns.add(pdev.devfn);
  const own = groupOf(pdev);
  if (own !== null) return own;
  for (const tmp of all) {
    if (tmp === pdev || tmp.pciBus !== pdev.pciBus || !pciDevsAreDmaAliases(pdev, tmp)) continue;
    const g = aliasGroup(all, tmp, devfns, groupOf) ?? functionAliasGroup(all, tmp, devfns, groupOf);
    if (g !== null) return g;
  }
  return null;
}

function functionAliasGroup<G>(all: readonly PciDev[], pdev: PciDev, devfns: Set<number>, groupOf: (d: PciDev) => G | null): G | null {
  if (!pdev.multifunction || pciAcsEnabled(pdev, REQ_ACS_FLAGS)) return null;
  for (const tmp of all) {
    if (tmp === pdev || tmp.pciBus !== pdev.pciBus || PCI_SLOT(tmp.devfn) !== PCI_SLOT(pdev.devfn) || pciAcsEnabled(tmp, REQ_ACS_FLAGS)) continue;
    const g = aliasGroup(all, tmp, devfns, groupOf);
    if (g !== null) return g;
  }
  return null;
}

/**
 * Finds or makes the IOMMU group of a function.
 * @param all every function, in `pci_get_device` order.
 * @param dev the function to place.
 * @param groupOf the group a function already has, or `null`.
 * @param alloc makes a new group.
 * @returns the group to join.
 * @kernel pci_device_group
 */
export function pciDeviceGroup<G>(all: readonly PciDev[], dev: PciDev, groupOf: (d: PciDev) => G | null, alloc: () => G): G {
  let last = dev;
  let found: G | null = null;
  if (
    pciForEachDmaAlias(dev, (d) => {
      last = d;
      found = groupOf(d);
      return found !== null;
    })
  ) {
    return found!;
  }
  let pdev: PciDev = last;
  for (let bus = pdev.pciBus; bus.parent !== null; bus = bus.parent) {
    if (bus.self === null) continue;
    if (pciAcsPathEnabled(bus.self, null, REQ_ACS_FLAGS)) break;
    pdev = bus.self;
    const g = groupOf(pdev);
    if (g !== null) return g;
  }
  const devfns = new Set<number>();
  return aliasGroup(all, pdev, devfns, groupOf) ?? functionAliasGroup(all, pdev, devfns, groupOf) ?? alloc();
}

/**
 * Puts a function in its IOMMU group (kernel groups, `Adding to iommu group N`).
 * @param kernel the kernel (IOMMU on).
 * @param all every function in `pci_get_device` order.
 * @param dev the function.
 * @returns the group.
 * @kernel iommu_probe_device → iommu_group_get_for_dev
 */
export function pciAssignIommuGroup(kernel: Kernel, all: readonly PciDev[], dev: PciDev): IommuGroup {
  const group = pciDeviceGroup<IommuGroup>(all, dev, (d) => d.iommuGroup, () => kernel.iommu.allocGroup());
  kernel.iommu.groupAddDevice(group, dev);
  return group;
}

/**
 * The groups the kernel would form for the subsystem's current ACS settings, without creating
 * any (numbered from 0 in creation order).
 * @param sys the PCI subsystem.
 * @returns the groups, members in device order.
 */
export function computeIommuGroups(sys: PciSubsystem): IommuGroupInfo[] {
  const all = sys.deviceList;
  const of = new Map<PciDev, IommuGroupInfo & { devices: string[] }>();
  const groups: Array<IommuGroupInfo & { devices: string[] }> = [];
  for (const d of all) {
    const g = pciDeviceGroup(
      all,
      d,
      (x) => of.get(x) ?? null,
      () => {
        const n = { id: groups.length, devices: [] as string[] };
        groups.push(n);
        return n;
      },
    );
    g.devices.push(d.name);
    of.set(d, g);
  }
  return groups;
}

function describe(d: PciDev): string {
  const id = (v: number | null): string => (v === null ? '????' : v.toString(16).padStart(4, '0'));
  return `${d.name} [${id(d.vendor)}:${id(d.device)}]${d.label === null ? '' : ` ${d.label}`}`;
}

/**
 * IOMMU groups as text for the CLI: each group and its members (with IDs and labels). With the
 * IOMMU off, says so and lists the groups the kernel would form with the current ACS settings.
 * @param sys the PCI subsystem.
 * @returns the report, newline-terminated.
 */
export function iommuGroupsReport(sys: PciSubsystem): string {
  const on = sys.kernel.iommu.enabled;
  const groups = on ? sys.iommuGroups() : computeIommuGroups(sys);
  const lines: string[] = on ? [] : ['IOMMU off: no IOMMU groups, DMA is direct. With the current ACS settings the kernel would form:'];
  for (const g of groups) {
    lines.push(`IOMMU group ${g.id}:`);
    for (const bdf of g.devices) {
      const d = sys.findByBdf(bdf);
      lines.push(`  ${d === null ? bdf : describe(d)}`);
    }
  }
  return `${lines.join('\n')}\n`;
}
