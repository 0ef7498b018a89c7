/**
 * Builds a function's configuration space from its topology description: header, BAR size
 * masks, the PCI Express capability at 0x40, and the extended capabilities from 0x100 (ACS,
 * then SR-IOV, 0x40 bytes apart).
 */
import { acsBitsFromNames, PCI_ACS_CAP_ASSUMED_UNKNOWN } from '../acs';
import { parseBdf } from '../bdf';
import { PCI_CLASS_BRIDGE_PCI } from '../builder';
import {
  PCI_ACS_CAP,
  PCI_ACS_CTRL,
  PCI_ACS_REGISTERS,
  PCI_CAP_ID_EXP,
  PCI_CAP_LIST_ID,
  PCI_EXP_DEVCAP,
  PCI_EXP_DEVCTL,
  PCI_EXP_FLAGS,
  PCI_EXP_LNKCAP,
  PCI_EXP_LNKCAP2,
  PCI_EXP_LNKSTA,
  PCI_EXP_LNKSTA_NLW_SHIFT,
  PCI_EXP_REGISTERS,
  PCI_EXP_TYPE_DOWNSTREAM,
  PCI_EXP_TYPE_ENDPOINT,
  PCI_EXP_TYPE_LEG_END,
  PCI_EXP_TYPE_PCI_BRIDGE,
  PCI_EXP_TYPE_PCIE_BRIDGE,
  PCI_EXP_TYPE_RC_EC,
  PCI_EXP_TYPE_RC_END,
  PCI_EXP_TYPE_ROOT_PORT,
  PCI_EXP_TYPE_UPSTREAM,
  PCI_EXT_CAP_ID_ACS,
  PCI_EXT_CAP_ID_SRIOV,
  PCI_SRIOV_CTRL,
  PCI_SRIOV_CTRL_MSE,
  PCI_SRIOV_CTRL_VFE,
  PCI_SRIOV_INITIAL_VF,
  PCI_SRIOV_NUM_VF,
  PCI_SRIOV_REGISTERS,
  PCI_SRIOV_SUP_PGSIZE,
  PCI_SRIOV_SYS_PGSIZE,
  PCI_SRIOV_TOTAL_VF,
  PCI_SRIOV_VF_DID,
  PCI_SRIOV_VF_OFFSET,
  PCI_SRIOV_VF_STRIDE,
} from '../capability';
import type { IgnoredWrite } from '../config-space';
import {
  ConfigSpace,
  PCI_BASE_ADDRESS_0,
  PCI_BASE_ADDRESS_MEM_PREFETCH,
  PCI_BASE_ADDRESS_MEM_TYPE_64,
  PCI_BASE_ADDRESS_SPACE_IO,
  PCI_CAPABILITY_LIST,
  PCI_CFG_SPACE_EXP_SIZE,
  PCI_CFG_SPACE_SIZE,
  PCI_CLASS_PROG,
  PCI_CLASS_DEVICE,
  PCI_COMMAND,
  PCI_COMMAND_IO,
  PCI_COMMAND_MEMORY,
  PCI_DEVICE_ID,
  PCI_HEADER_TYPE,
  PCI_PRIMARY_BUS,
  PCI_REVISION_ID,
  PCI_SECONDARY_BUS,
  PCI_STATUS,
  PCI_STATUS_CAP_LIST,
  PCI_SUBORDINATE_BUS,
  PCI_SUBSYSTEM_ID,
  PCI_SUBSYSTEM_VENDOR_ID,
  PCI_TYPE0_REGISTERS,
  PCI_TYPE1_REGISTERS,
  PCI_VENDOR_ID,
} from '../config-space';
import type { PciLinkState } from '../pci-dev';
import type { DeviceSpec, PciePortType } from '../topology-spec';

/** Express device/port type register value by topology port type. */
export const PCIE_TYPE_VALUE: Readonly<Record<PciePortType, number>> = {
  endpoint: PCI_EXP_TYPE_ENDPOINT,
  'legacy-endpoint': PCI_EXP_TYPE_LEG_END,
  'root-port': PCI_EXP_TYPE_ROOT_PORT,
  'upstream-port': PCI_EXP_TYPE_UPSTREAM,
  'downstream-port': PCI_EXP_TYPE_DOWNSTREAM,
  'pcie-pci-bridge': PCI_EXP_TYPE_PCI_BRIDGE,
  'pci-pcie-bridge': PCI_EXP_TYPE_PCIE_BRIDGE,
  'rc-endpoint': PCI_EXP_TYPE_RC_END,
  'rc-event-collector': PCI_EXP_TYPE_RC_EC,
};

/** Offset of the Express capability. */
export const PCIE_CAP_OFFSET = 0x40;
/** Offset of the first extended capability. */
const EXT_CAP_BASE = 0x100;
/** Extended capability structure version written (1). */
const EXT_CAP_VERSION = 1;
/** Space given to each extended capability (ACS first, then SR-IOV). */
const EXT_CAP_SLOT = 0x40;
/** Express capability version written (2). */
const PCIE_CAP_VERSION = 2;
/** Typical SR-IOV supported page sizes (4K, 8K, 64K, 256K, 1M, 4M). */
const SRIOV_SUPPORTED_PAGE_SIZES = 0x553;
const FOUR_GIB = 2 ** 32;

/** SR-IOV parameters of a physical function. */
export interface SriovInfo {
  readonly numVfs: number;
  readonly offset: number;
  readonly stride: number;
  readonly vfDevice: number | null;
}

/** A built configuration space and what enumeration needs to know about it. */
export interface BuiltConfig {
  readonly config: ConfigSpace;
  readonly pcieCap: number;
  readonly pcieType: number | null;
  readonly acsCap: number;
  readonly link: PciLinkState;
  /** Set when the ACS control was unknown and is assumed 0 (enumeration logs a warning). */
  readonly acsCtrlUnknown: boolean;
  /** Set when the ACS capability bits were unknown and assumed. */
  readonly acsCapUnknown: boolean;
  /** Set when an ACS capability was listed on a conventional PCI function (dropped). */
  readonly acsDropped: boolean;
}

function payloadCode(bytes: number): number {
  return Math.max(0, Math.round(Math.log2(bytes / 128)));
}

/**
 * Builds a configuration space.
 * @param spec the function's description.
 * @param hdrType header type layout.
 * @param isVirtfn whether it is a VF (its vendor/device registers read 0xffff, per SR-IOV).
 * @param sriov SR-IOV parameters of a PF with VFs, or `null`.
 * @param onIgnored where writes to read-only registers are reported.
 * @returns the config space and derived facts.
 */
export function buildConfig(
  spec: DeviceSpec,
  hdrType: 0 | 1,
  isVirtfn: boolean,
  sriov: SriovInfo | null,
  onIgnored: (w: IgnoredWrite) => void,
): BuiltConfig {
  const pcie = spec.pcie;
  const cfg = new ConfigSpace(pcie !== undefined ? PCI_CFG_SPACE_EXP_SIZE : PCI_CFG_SPACE_SIZE, onIgnored);
  const sizeMasks = new Map<number, number>();
  const barInit: Array<[number, number]> = [];
  let hasIo = false;
  for (const b of spec.bars ?? []) {
    const reg = PCI_BASE_ADDRESS_0 + 4 * b.index;
    if (b.kind === 'io') {
      hasIo = true;
      sizeMasks.set(reg, (~(b.size - 1) & ~0x3) >>> 0);
      barInit.push([reg, PCI_BASE_ADDRESS_SPACE_IO]);
      continue;
    }
    const low = b.size >= FOUR_GIB ? 0 : (~(b.size - 1) & ~0xf) >>> 0;
    sizeMasks.set(reg, low);
    let flags = 0;
    if (b.is64) flags |= PCI_BASE_ADDRESS_MEM_TYPE_64;
    if (b.prefetchable) flags |= PCI_BASE_ADDRESS_MEM_PREFETCH;
    barInit.push([reg, flags]);
    if (b.is64) sizeMasks.set(reg + 4, b.size > FOUR_GIB ? ~(b.size / FOUR_GIB - 1) >>> 0 : 0xffffffff);
  }
  cfg.defineRegisters(0, hdrType === 1 ? PCI_TYPE1_REGISTERS : PCI_TYPE0_REGISTERS, sizeMasks);
  cfg.init16(PCI_VENDOR_ID, isVirtfn ? 0xffff : (spec.vendor ?? 0));
  cfg.init16(PCI_DEVICE_ID, isVirtfn ? 0xffff : (spec.device ?? 0));
  const cls = spec.classCode ?? (hdrType === 1 ? PCI_CLASS_BRIDGE_PCI : 0);
  cfg.init8(PCI_REVISION_ID, spec.revision ?? 0);
  cfg.init8(PCI_CLASS_PROG, cls & 0xff);
  cfg.init16(PCI_CLASS_DEVICE, cls >> 8);
  cfg.init8(PCI_HEADER_TYPE, hdrType);
  cfg.init16(PCI_COMMAND, PCI_COMMAND_MEMORY | (hasIo ? PCI_COMMAND_IO : 0));
  for (const [reg, v] of barInit) cfg.init32(reg, v);
  if (hdrType === 0) {
    cfg.init16(PCI_SUBSYSTEM_VENDOR_ID, spec.subsystemVendor ?? 0);
    cfg.init16(PCI_SUBSYSTEM_ID, spec.subsystemDevice ?? 0);
  } else {
    cfg.init8(PCI_PRIMARY_BUS, parseBdf(spec.bdf)?.bus ?? 0);
    cfg.init8(PCI_SECONDARY_BUS, spec.secondaryBus ?? 0);
    cfg.init8(PCI_SUBORDINATE_BUS, spec.subordinateBus ?? 0);
  }
  const link: PciLinkState = {
    gen: pcie?.linkGen ?? null,
    width: pcie?.linkWidth ?? null,
    maxGen: pcie?.maxLinkGen ?? null,
    maxWidth: pcie?.maxLinkWidth ?? null,
    mps: pcie?.mps ?? null,
  };
  if (pcie === undefined) {
    return {
      config: cfg,
      pcieCap: 0,
      pcieType: null,
      acsCap: 0,
      link,
      acsCtrlUnknown: false,
      acsCapUnknown: false,
      acsDropped: spec.acs !== undefined && spec.acs.cap !== 'unknown',
    };
  }

  // PCI Express capability.
  const type = PCIE_TYPE_VALUE[pcie.portType];
  const at = PCIE_CAP_OFFSET;
  cfg.defineRegisters(at, PCI_EXP_REGISTERS);
  cfg.init16(PCI_STATUS, PCI_STATUS_CAP_LIST);
  cfg.init8(PCI_CAPABILITY_LIST, at);
  cfg.init8(at + PCI_CAP_LIST_ID, PCI_CAP_ID_EXP);
  cfg.init16(at + PCI_EXP_FLAGS, PCIE_CAP_VERSION | (type << 4));
  const mps = pcie.mps ?? 128;
  cfg.init32(at + PCI_EXP_DEVCAP, payloadCode(Math.max(mps, 256)));
  cfg.init16(at + PCI_EXP_DEVCTL, payloadCode(mps) << 5);
  const maxGen = pcie.maxLinkGen ?? pcie.linkGen ?? 0;
  const maxWidth = pcie.maxLinkWidth ?? pcie.linkWidth ?? 0;
  cfg.init32(at + PCI_EXP_LNKCAP, maxGen | (maxWidth << 4));
  cfg.init16(at + PCI_EXP_LNKSTA, (pcie.linkGen ?? 0) | ((pcie.linkWidth ?? 0) << PCI_EXP_LNKSTA_NLW_SHIFT));
  let speeds = 0;
  for (let g = 1; g <= maxGen; g++) speeds |= 1 << g;
  cfg.init32(at + PCI_EXP_LNKCAP2, speeds);

  // Extended capabilities: ACS, then SR-IOV.
  const ext: Array<{ id: number; size: number; fill: (off: number) => void }> = [];
  let acsCap = 0;
  let acsCtrlUnknown = false;
  let acsCapUnknown = false;
  if (spec.acs !== undefined) {
    const acs = spec.acs;
    acsCapUnknown = acs.cap === 'unknown';
    acsCtrlUnknown = acs.ctrl === 'unknown';
    const capBits = acs.cap === 'unknown' ? PCI_ACS_CAP_ASSUMED_UNKNOWN : acsBitsFromNames(acs.cap);
    const ctrlBits = acs.ctrl === 'unknown' ? 0 : acsBitsFromNames(acs.ctrl) & capBits;
    ext.push({
      id: PCI_EXT_CAP_ID_ACS,
      size: EXT_CAP_SLOT,
      fill: (o) => {
        acsCap = o;
        cfg.defineRegisters(o, PCI_ACS_REGISTERS);
        cfg.setWriteMask(o + PCI_ACS_CTRL, 2, capBits);
        cfg.init16(o + PCI_ACS_CAP, capBits);
        cfg.init16(o + PCI_ACS_CTRL, ctrlBits);
      },
    });
  }
  if (sriov !== null) {
    ext.push({
      id: PCI_EXT_CAP_ID_SRIOV,
      size: EXT_CAP_SLOT,
      fill: (o) => {
        cfg.defineRegisters(o, PCI_SRIOV_REGISTERS);
        cfg.init16(o + PCI_SRIOV_CTRL, PCI_SRIOV_CTRL_VFE | PCI_SRIOV_CTRL_MSE);
        cfg.init16(o + PCI_SRIOV_INITIAL_VF, sriov.numVfs);
        cfg.init16(o + PCI_SRIOV_TOTAL_VF, sriov.numVfs);
        cfg.init16(o + PCI_SRIOV_NUM_VF, sriov.numVfs);
        cfg.init16(o + PCI_SRIOV_VF_OFFSET, sriov.offset);
        cfg.init16(o + PCI_SRIOV_VF_STRIDE, sriov.stride);
        cfg.init16(o + PCI_SRIOV_VF_DID, sriov.vfDevice ?? spec.device ?? 0);
        cfg.init32(o + PCI_SRIOV_SUP_PGSIZE, SRIOV_SUPPORTED_PAGE_SIZES);
        cfg.init32(o + PCI_SRIOV_SYS_PGSIZE, 1);
      },
    });
  }
  let off = EXT_CAP_BASE;
  ext.forEach((e, i) => {
    e.fill(off);
    const next = i + 1 < ext.length ? off + e.size : 0;
    cfg.init32(off, (e.id | (EXT_CAP_VERSION << 16) | (next << 20)) >>> 0);
    off += e.size;
  });
  return { config: cfg, pcieCap: at, pcieType: type, acsCap, link, acsCtrlUnknown, acsCapUnknown, acsDropped: false };
}
