/**
 * PCIe Access Control Services: the capability and control bits, the kernel's checks of whether
 * a function (or a whole path) isolates peer-to-peer traffic, and the boot-time ACS steps run
 * for every function at enumeration.
 *
 * The enable step differs by policy (data in `ACS_ENABLE_POLICY`):
 * - `upstream` (Linux 6.6, `pci_enable_acs`): when an IOMMU asked for ACS, set SV, RR, CR and UF
 *   where implemented, and TB too under `pci=noats` or on external-facing/untrusted functions;
 *   then, IOMMU or not, `pci=disable_acs_redir=` clears RR, CR and EC on the named functions.
 * - `v2` (the 2018 kernel plus seed patch 04): the same SV, RR, CR, UF step but never TB, and no
 *   `disable_acs_redir=` (it arrived in 4.19).
 * Hooks run first in both (the p2pdma package plugs patch 04's `pci_p2pdma_disable_acs` in
 * there); a hook returning `true` has handled the function and the standard step is skipped.
 *
 * @kernel drivers/pci/pci.c (pci_enable_acs, pci_std_enable_acs, pci_disable_acs_redir,
 *   pci_acs_enabled, pci_acs_path_enabled), drivers/pci/quirks.c (pci_dev_acs_enabled[])
 */
import type { Kernel, NegErrno, P2pdmaPolicy } from '@p2pdma/kernel';
import { err } from '@p2pdma/kernel';
import { PCI_ACS_CAP, PCI_ACS_CTRL, PCI_EXP_TYPE_DOWNSTREAM, PCI_EXP_TYPE_ENDPOINT, PCI_EXP_TYPE_LEG_END } from './capability';
import { PCI_EXP_TYPE_PCI_BRIDGE, PCI_EXP_TYPE_PCIE_BRIDGE, PCI_EXP_TYPE_RC_EC, PCI_EXP_TYPE_RC_END } from './capability';
import { PCI_EXP_TYPE_ROOT_PORT, PCI_EXP_TYPE_UPSTREAM } from './capability';
import type { PciDev } from './pci-dev';
import { pciIsPcie } from './pci-dev';
import { PCI_ANY_ID } from './pci-driver';
import type { PciParams } from './pci-params';
import { pciDevListMatch } from './pci-params';
import type { AcsBitName } from './topology-spec';

/** ACS Source Validation. @kernel PCI_ACS_SV */
export const PCI_ACS_SV = 0x0001;
/** ACS Translation Blocking. @kernel PCI_ACS_TB */
export const PCI_ACS_TB = 0x0002;
/** ACS P2P Request Redirect. @kernel PCI_ACS_RR */
export const PCI_ACS_RR = 0x0004;
/** ACS P2P Completion Redirect. @kernel PCI_ACS_CR */
export const PCI_ACS_CR = 0x0008;
/** ACS Upstream Forwarding. @kernel PCI_ACS_UF */
export const PCI_ACS_UF = 0x0010;
/** ACS P2P Egress Control. @kernel PCI_ACS_EC */
export const PCI_ACS_EC = 0x0020;
/** ACS Direct Translated P2P. @kernel PCI_ACS_DT */
export const PCI_ACS_DT = 0x0040;

/** ACS bit by name, in register order. */
export const ACS_BIT: Readonly<Record<AcsBitName, number>> = {
  SV: PCI_ACS_SV,
  TB: PCI_ACS_TB,
  RR: PCI_ACS_RR,
  CR: PCI_ACS_CR,
  UF: PCI_ACS_UF,
  EC: PCI_ACS_EC,
  DT: PCI_ACS_DT,
};

/** The flags the IOMMU layer requires for isolation. @kernel REQ_ACS_FLAGS (drivers/iommu/iommu.c) */
export const REQ_ACS_FLAGS = PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF;
/** The redirect bits `disable_acs_redir=` clears. */
export const PCI_ACS_REDIR_BITS = PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_EC;
/** Capability assumed when an input lists ACS without its bits: SV TB RR CR UF DT. */
export const PCI_ACS_CAP_ASSUMED_UNKNOWN = PCI_ACS_SV | PCI_ACS_TB | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF | PCI_ACS_DT;

/**
 * Bits from names.
 * @param names ACS bit names.
 * @returns the OR of their bits.
 */
export function acsBitsFromNames(names: readonly AcsBitName[]): number {
  let bits = 0;
  for (const n of names) bits |= ACS_BIT[n];
  return bits;
}

/**
 * Names from bits.
 * @param bits ACS bits.
 * @returns the names in register order.
 */
export function acsBitNames(bits: number): AcsBitName[] {
  return (Object.keys(ACS_BIT) as AcsBitName[]).filter((n) => (bits & ACS_BIT[n]) !== 0);
}

/**
 * Whether the requested flags are all among the enabled ones.
 * @param req requested flags.
 * @param ena enabled (or implied) flags.
 * @returns `1` when `req ⊆ ena`, else `0`.
 * @kernel pci_acs_ctrl_enabled
 */
export function pciAcsCtrlEnabled(req: number, ena: number): 1 | 0 {
  return (req & ena) === req ? 1 : 0;
}

/**
 * A device-specific answer to "does this function isolate peer-to-peer for these flags?".
 * @kernel struct pci_dev_acs_enabled
 */
export interface AcsEnabledQuirk {
  /** Vendor ID (or `PCI_ANY_ID`). */
  readonly vendor: number;
  /** Device ID (or `PCI_ANY_ID`). */
  readonly device: number;
  /** The kernel function implementing it. */
  readonly name: string;
  /** The quirks.c comment or commit that justifies it. */
  readonly source: string;
  /**
   * The check.
   * @returns `1` isolated, `0` not, `-ENOTTY` "not mine" (try the next entry).
   */
  readonly check: (dev: PciDev, acsFlags: number) => 1 | 0 | NegErrno;
}

const ANY = PCI_ANY_ID;
const INTEL = 0x8086;
const BROADCOM = 0x14e4;

/** Multi-function endpoints the vendor verified never to do peer-to-peer between functions. */
function mfEndpointAcs(_dev: PciDev, acsFlags: number): 1 | 0 {
  return pciAcsCtrlEnabled(acsFlags, PCI_ACS_SV | PCI_ACS_TB | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF | PCI_ACS_DT);
}

/** Intel root complex integrated endpoints: no peer-to-peer among them. */
function rciepAcs(dev: PciDev, acsFlags: number): 1 | 0 | NegErrno {
  if (dev.pcieType !== PCI_EXP_TYPE_RC_END) return err('ENOTTY');
  return pciAcsCtrlEnabled(acsFlags, PCI_ACS_SV | PCI_ACS_RR | PCI_ACS_CR | PCI_ACS_UF);
}

const MF_SOURCE =
  'quirks.c pci_quirk_mf_endpoint_acs: "Multifunction devices are only required to implement RR, CR, and DT in their ACS ' +
  'capability if they support peer-to-peer transactions. Devices matching this quirk have been verified by the vendor to not ' +
  'perform peer-to-peer with other functions"';

function mf(vendor: number, device: number, family: string): AcsEnabledQuirk {
  return { vendor, device, name: 'pci_quirk_mf_endpoint_acs', source: `${family}: ${MF_SOURCE}`, check: mfEndpointAcs };
}

/**
 * The device-specific ACS table, searched in order (a subset of Linux 6.6's
 * `pci_dev_acs_enabled[]`: the multi-function NIC entries for Intel 82571/82575/I350/I219 and
 * Broadcom NetXtreme-E, and the Intel RCiEP entry). Entries whose check needs state the model
 * does not keep (the Intel PCH root port workaround) are not listed.
 * @kernel pci_dev_acs_enabled[] (drivers/pci/quirks.c)
 */
export const PCI_DEV_ACS_ENABLED_QUIRKS: readonly AcsEnabledQuirk[] = [
  mf(INTEL, 0x10a7, '82575'),
  mf(INTEL, 0x10a9, '82575'),
  mf(INTEL, 0x10d6, '82575'),
  mf(INTEL, 0x1521, 'I350'),
  mf(INTEL, 0x1522, 'I350'),
  mf(INTEL, 0x1523, 'I350'),
  mf(INTEL, 0x1524, 'I350'),
  mf(INTEL, 0x105e, '82571 (quads omitted due to non-ACS switch)'),
  mf(INTEL, 0x105f, '82571'),
  mf(INTEL, 0x1060, '82571'),
  mf(INTEL, 0x10d9, '82571'),
  mf(INTEL, 0x15b7, 'I219'),
  mf(INTEL, 0x15b8, 'I219'),
  {
    vendor: INTEL,
    device: ANY,
    name: 'pci_quirk_rciep_acs',
    source: 'quirks.c pci_quirk_rciep_acs: Intel RCiEPs do not do peer-to-peer with each other',
    check: rciepAcs,
  },
  mf(BROADCOM, 0x16d7, 'Broadcom multi-function device'),
  mf(BROADCOM, 0x1750, 'Broadcom NetXtreme-E'),
  mf(BROADCOM, 0x1751, 'Broadcom NetXtreme-E'),
  mf(BROADCOM, 0x1752, 'Broadcom NetXtreme-E'),
];

/**
 * Runs the device-specific ACS table.
 * @param dev the function.
 * @param acsFlags flags asked about.
 * @param table the quirk table (default `PCI_DEV_ACS_ENABLED_QUIRKS`).
 * @returns `1`/`0` from the first entry that claims the function, `-ENOTTY` when none does.
 * @kernel pci_dev_specific_acs_enabled
 */
export function pciDevSpecificAcsEnabled(
  dev: PciDev,
  acsFlags: number,
  table: readonly AcsEnabledQuirk[] = PCI_DEV_ACS_ENABLED_QUIRKS,
): 1 | 0 | NegErrno {
  for (const q of table) {
    const vOk = q.vendor === ANY || (dev.vendor !== null && q.vendor === dev.vendor);
    const dOk = q.device === ANY || (dev.device !== null && q.device === dev.device);
    if (!vOk || !dOk) continue;
    const ret = q.check(dev, acsFlags);
    if (ret >= 0) return ret;
  }
  return err('ENOTTY');
}

/**
 * Whether the function's ACS capability has the flags enabled; flags missing from the
 * capability count as hard-wired enabled, except Egress Control.
 * @param dev the function.
 * @param acsFlags flags asked about.
 * @returns `false` without an ACS capability.
 * @kernel pci_acs_flags_enabled
 */
export function pciAcsFlagsEnabled(dev: PciDev, acsFlags: number): boolean {
  if (dev.acsCap === 0) return false;
  const cap = dev.config.read(dev.acsCap + PCI_ACS_CAP, 2);
  const flags = acsFlags & (cap | PCI_ACS_EC);
  const ctrl = dev.config.read(dev.acsCap + PCI_ACS_CTRL, 2);
  return (ctrl & flags) === flags;
}

/** How `pci_acs_enabled` treats each Express type: check the capability, only if multi-function, never. */
const ACS_BY_PORT_TYPE: ReadonlyMap<number, 'check' | 'if-multifunction' | 'never'> = new Map([
  [PCI_EXP_TYPE_PCIE_BRIDGE, 'never'],
  [PCI_EXP_TYPE_PCI_BRIDGE, 'never'],
  [PCI_EXP_TYPE_RC_EC, 'never'],
  [PCI_EXP_TYPE_DOWNSTREAM, 'check'],
  [PCI_EXP_TYPE_ROOT_PORT, 'check'],
  [PCI_EXP_TYPE_ENDPOINT, 'if-multifunction'],
  [PCI_EXP_TYPE_UPSTREAM, 'if-multifunction'],
  [PCI_EXP_TYPE_LEG_END, 'if-multifunction'],
  [PCI_EXP_TYPE_RC_END, 'if-multifunction'],
]);

/**
 * Whether a function isolates peer-to-peer traffic for the given flags: the quirk table first;
 * conventional PCI never; PCIe-to-PCI bridges and event collectors never; root and downstream
 * ports by their capability; endpoints and upstream ports by their capability only when
 * multi-function (single-function ones need no ACS).
 * @param dev the function.
 * @param acsFlags flags asked about (`REQ_ACS_FLAGS` for IOMMU grouping).
 * @returns `true` when isolated.
 * @kernel pci_acs_enabled
 */
export function pciAcsEnabled(dev: PciDev, acsFlags: number): boolean {
  const q = pciDevSpecificAcsEnabled(dev, acsFlags);
  if (q >= 0) return q > 0;
  if (!pciIsPcie(dev) || dev.pcieType === null) return false;
  const rule = ACS_BY_PORT_TYPE.get(dev.pcieType);
  if (rule === 'never') return false;
  if (rule === 'check') return pciAcsFlagsEnabled(dev, acsFlags);
  if (rule === 'if-multifunction' && dev.multifunction) return pciAcsFlagsEnabled(dev, acsFlags);
  return true;
}

/**
 * Whether every function from `start` up to `end` (or to the root bus) has the flags enabled.
 * @param start the lowest function.
 * @param end the highest function to check, or `null` for "up to the root bus".
 * @param acsFlags flags asked about.
 * @returns `true` when the whole path isolates.
 * @kernel pci_acs_path_enabled
 */
export function pciAcsPathEnabled(start: PciDev, end: PciDev | null, acsFlags: number): boolean {
  let parent: PciDev = start;
  let pdev: PciDev;
  do {
    pdev = parent;
    if (!pciAcsEnabled(pdev, acsFlags)) return false;
    if (pdev.pciBus.parent === null) return end === null;
    parent = pdev.pciBus.self!;
  } while (pdev !== end);
  return true;
}

/** What the boot-time ACS step does under a policy. */
export interface AcsEnablePolicy {
  /** Bits `pci_std_enable_acs` sets where the capability has them. */
  readonly stdBits: number;
  /** Whether TB is set too under `pci=noats` or on external-facing/untrusted functions. */
  readonly translationBlocking: boolean;
  /** Whether `pci=disable_acs_redir=` is honoured. */
  readonly disableAcsRedir: boolean;
  /** Which kernel this describes. */
  readonly kernel: string;
}

/**
 * The boot-time ACS step by policy.
 * @kernel pci_enable_acs / pci_std_enable_acs (4.16 + seed patch 04, and 6.6)
 */
export const ACS_ENABLE_POLICY: Readonly<Record<P2pdmaPolicy, AcsEnablePolicy>> = {
  v2: { stdBits: REQ_ACS_FLAGS, translationBlocking: false, disableAcsRedir: false, kernel: 'Linux 4.16 + P2PDMA v2 patch 04' },
  upstream: { stdBits: REQ_ACS_FLAGS, translationBlocking: true, disableAcsRedir: true, kernel: 'Linux 6.6' },
};

/**
 * A hook run for each function before the standard ACS step.
 * @returns `true` when it handled the function (the standard step is skipped).
 */
export type AcsEnableHook = (dev: PciDev) => boolean;

/** What the ACS step needs besides the function. */
export interface AcsStepContext {
  /** Whether an IOMMU driver asked for ACS (`pci_acs_enable`): the kernel's IOMMU is on. */
  readonly iommuOn: boolean;
  /** The `pci=` options. */
  readonly params: PciParams;
  /** The policy in force. */
  readonly policy: P2pdmaPolicy;
  /** Hooks, run in order; the first returning `true` handles the function. */
  readonly hooks: readonly AcsEnableHook[];
}

/**
 * Sets the standard ACS controls a function implements.
 * @param dev the function (nothing happens without an ACS capability).
 * @param ctx policy and parameters.
 * @kernel pci_std_enable_acs
 */
export function pciStdEnableAcs(dev: PciDev, ctx: Pick<AcsStepContext, 'params' | 'policy'>): void {
  if (dev.acsCap === 0) return;
  const pol = ACS_ENABLE_POLICY[ctx.policy];
  const cap = dev.config.read(dev.acsCap + PCI_ACS_CAP, 2);
  let ctrl = dev.config.read(dev.acsCap + PCI_ACS_CTRL, 2);
  ctrl |= cap & pol.stdBits;
  if (pol.translationBlocking && (ctx.params.noats || dev.externalFacing || dev.untrusted)) ctrl |= cap & PCI_ACS_TB;
  dev.config.write(dev.acsCap + PCI_ACS_CTRL, 2, ctrl);
}

const parseWarned = new WeakSet<Kernel>();

/**
 * Clears RR, CR and EC on a function named by `pci=disable_acs_redir=`, logging
 * `disabled ACS redirect`, or warning that the function has no ACS capability.
 * @param dev the function.
 * @param params the `pci=` options.
 * @kernel pci_disable_acs_redir
 */
export function pciDisableAcsRedir(dev: PciDev, params: PciParams): void {
  const list = params.disableAcsRedir;
  if (list === null) return;
  const ret = pciDevListMatch(dev, list);
  if (ret < 0) {
    if (!parseWarned.has(dev.kernel)) {
      parseWarned.add(dev.kernel);
      dev.kernel.log.prInfo(`PCI: Can't parse disable_acs_redir parameter: ${list}`);
    }
    return;
  }
  if (ret !== 1) return;
  if (dev.acsCap === 0) {
    dev.kernel.log.devWarn(dev, 'cannot disable ACS redirect for this hardware as it does not have ACS capabilities');
    return;
  }
  const ctrl = dev.config.read(dev.acsCap + PCI_ACS_CTRL, 2) & ~PCI_ACS_REDIR_BITS;
  dev.config.write(dev.acsCap + PCI_ACS_CTRL, 2, ctrl);
  dev.kernel.log.devInfo(dev, 'disabled ACS redirect');
}

/**
 * The boot-time ACS step for one function: hooks, then (IOMMU on) the standard enable, then
 * (upstream policy) `disable_acs_redir=`.
 * @param dev the function, during enumeration.
 * @param ctx IOMMU state, parameters, policy and hooks.
 * @returns `'hook'` when a hook handled it, `'std'` when the standard step ran, `'none'` otherwise.
 * @kernel pci_enable_acs
 */
export function pciEnableAcs(dev: PciDev, ctx: AcsStepContext): 'hook' | 'std' | 'none' {
  const pol = ACS_ENABLE_POLICY[ctx.policy];
  let result: 'hook' | 'std' | 'none' = 'none';
  if (ctx.hooks.some((h) => h(dev))) result = 'hook';
  else if (ctx.iommuOn) {
    pciStdEnableAcs(dev, ctx);
    result = 'std';
  }
  // 6.6 runs disable_acs_redir whether or not ACS was enabled: firmware may have set the bits.
  if (pol.disableAcsRedir) pciDisableAcsRedir(dev, ctx.params);
  return result;
}
