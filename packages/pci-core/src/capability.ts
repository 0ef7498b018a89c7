/**
 * Capability lists: the standard list (from `PCI_CAPABILITY_LIST`) holding the PCI Express
 * capability, and the extended list (from 0x100) holding ACS and SR-IOV. Register tables give
 * each structure's registers; the finders walk the lists as the kernel does.
 *
 * @kernel drivers/pci/pci.c (pci_find_capability, pci_find_ext_capability),
 *   include/uapi/linux/pci_regs.h
 */
import type { ConfigRegister } from './config-space';
import { PCI_CAPABILITY_LIST, PCI_CFG_SPACE_SIZE, PCI_STATUS, PCI_STATUS_CAP_LIST } from './config-space';
import type { PciDev } from './pci-dev';

/** Capability list entry: the ID byte. @kernel PCI_CAP_LIST_ID */
export const PCI_CAP_LIST_ID = 0;
/** Capability list entry: the next pointer byte. @kernel PCI_CAP_LIST_NEXT */
export const PCI_CAP_LIST_NEXT = 1;
/** Power Management capability ID. @kernel PCI_CAP_ID_PM */
export const PCI_CAP_ID_PM = 0x01;
/** MSI capability ID. @kernel PCI_CAP_ID_MSI */
export const PCI_CAP_ID_MSI = 0x05;
/** PCI Express capability ID. @kernel PCI_CAP_ID_EXP */
export const PCI_CAP_ID_EXP = 0x10;
/** MSI-X capability ID. @kernel PCI_CAP_ID_MSIX */
export const PCI_CAP_ID_MSIX = 0x11;

/** Advanced Error Reporting extended capability ID. @kernel PCI_EXT_CAP_ID_ERR */
export const PCI_EXT_CAP_ID_ERR = 0x01;
/** Access Control Services extended capability ID. @kernel PCI_EXT_CAP_ID_ACS */
export const PCI_EXT_CAP_ID_ACS = 0x0d;
/** SR-IOV extended capability ID. @kernel PCI_EXT_CAP_ID_SRIOV */
export const PCI_EXT_CAP_ID_SRIOV = 0x10;

/**
 * Capability ID of an extended capability header. @kernel PCI_EXT_CAP_ID
 * @param header the 32-bit header.
 * @returns bits 15:0.
 */
export function PCI_EXT_CAP_ID(header: number): number {
  return header & 0xffff;
}
/**
 * Version of an extended capability header. @kernel PCI_EXT_CAP_VER
 * @param header the 32-bit header.
 * @returns bits 19:16.
 */
export function PCI_EXT_CAP_VER(header: number): number {
  return (header >>> 16) & 0xf;
}
/**
 * Next pointer of an extended capability header. @kernel PCI_EXT_CAP_NEXT
 * @param header the 32-bit header.
 * @returns bits 31:20, dword aligned.
 */
export function PCI_EXT_CAP_NEXT(header: number): number {
  return (header >>> 20) & 0xffc;
}

/** Express capability: flags register (version, device/port type). @kernel PCI_EXP_FLAGS */
export const PCI_EXP_FLAGS = 0x02;
/** Express flags: capability version field. @kernel PCI_EXP_FLAGS_VERS */
export const PCI_EXP_FLAGS_VERS = 0x000f;
/** Express flags: device/port type field. @kernel PCI_EXP_FLAGS_TYPE */
export const PCI_EXP_FLAGS_TYPE = 0x00f0;
/** Device/port type: PCI Express endpoint. @kernel PCI_EXP_TYPE_ENDPOINT */
export const PCI_EXP_TYPE_ENDPOINT = 0x0;
/** Device/port type: legacy endpoint. @kernel PCI_EXP_TYPE_LEG_END */
export const PCI_EXP_TYPE_LEG_END = 0x1;
/** Device/port type: root port. @kernel PCI_EXP_TYPE_ROOT_PORT */
export const PCI_EXP_TYPE_ROOT_PORT = 0x4;
/** Device/port type: switch upstream port. @kernel PCI_EXP_TYPE_UPSTREAM */
export const PCI_EXP_TYPE_UPSTREAM = 0x5;
/** Device/port type: switch downstream port. @kernel PCI_EXP_TYPE_DOWNSTREAM */
export const PCI_EXP_TYPE_DOWNSTREAM = 0x6;
/** Device/port type: PCIe-to-PCI/PCI-X bridge. @kernel PCI_EXP_TYPE_PCI_BRIDGE */
export const PCI_EXP_TYPE_PCI_BRIDGE = 0x7;
/** Device/port type: PCI/PCI-X-to-PCIe bridge. @kernel PCI_EXP_TYPE_PCIE_BRIDGE */
export const PCI_EXP_TYPE_PCIE_BRIDGE = 0x8;
/** Device/port type: root complex integrated endpoint. @kernel PCI_EXP_TYPE_RC_END */
export const PCI_EXP_TYPE_RC_END = 0x9;
/** Device/port type: root complex event collector. @kernel PCI_EXP_TYPE_RC_EC */
export const PCI_EXP_TYPE_RC_EC = 0xa;
/** Express device capabilities. @kernel PCI_EXP_DEVCAP */
export const PCI_EXP_DEVCAP = 0x04;
/** Device capabilities: max payload size supported (128 << n). @kernel PCI_EXP_DEVCAP_PAYLOAD */
export const PCI_EXP_DEVCAP_PAYLOAD = 0x00000007;
/** Express device control. @kernel PCI_EXP_DEVCTL */
export const PCI_EXP_DEVCTL = 0x08;
/** Device control: max payload size (bits 7:5, 128 << n). @kernel PCI_EXP_DEVCTL_PAYLOAD */
export const PCI_EXP_DEVCTL_PAYLOAD = 0x00e0;
/** Express device status. @kernel PCI_EXP_DEVSTA */
export const PCI_EXP_DEVSTA = 0x0a;
/** Express link capabilities. @kernel PCI_EXP_LNKCAP */
export const PCI_EXP_LNKCAP = 0x0c;
/** Link capabilities: max link speed (1 = 2.5 GT/s ... 6 = 64 GT/s). @kernel PCI_EXP_LNKCAP_SLS */
export const PCI_EXP_LNKCAP_SLS = 0x0000000f;
/** Link capabilities: max link width (bits 9:4). @kernel PCI_EXP_LNKCAP_MLW */
export const PCI_EXP_LNKCAP_MLW = 0x000003f0;
/** Express link control. @kernel PCI_EXP_LNKCTL */
export const PCI_EXP_LNKCTL = 0x10;
/** Express link status. @kernel PCI_EXP_LNKSTA */
export const PCI_EXP_LNKSTA = 0x12;
/** Link status: current link speed. @kernel PCI_EXP_LNKSTA_CLS */
export const PCI_EXP_LNKSTA_CLS = 0x000f;
/** Link status: negotiated link width (bits 9:4). @kernel PCI_EXP_LNKSTA_NLW */
export const PCI_EXP_LNKSTA_NLW = 0x03f0;
/** Shift of the negotiated link width field. @kernel PCI_EXP_LNKSTA_NLW_SHIFT */
export const PCI_EXP_LNKSTA_NLW_SHIFT = 4;
/** Express link capabilities 2 (supported speeds vector, bits 7:1). @kernel PCI_EXP_LNKCAP2 */
export const PCI_EXP_LNKCAP2 = 0x2c;
/** Size of a version 2 Express capability. @kernel PCI_CAP_EXP_ENDPOINT_SIZEOF_V2 */
export const PCI_CAP_EXP_SIZEOF = 0x3c;

/** ACS capability register (16 bits). @kernel PCI_ACS_CAP */
export const PCI_ACS_CAP = 0x04;
/** ACS control register (16 bits). @kernel PCI_ACS_CTRL */
export const PCI_ACS_CTRL = 0x06;
/** ACS egress control vector (present when the capability has EC). @kernel PCI_ACS_EGRESS_CTL_V */
export const PCI_ACS_EGRESS_CTL_V = 0x08;
/** Size of the ACS capability as modelled (no egress control vector). */
export const PCI_ACS_SIZEOF = 0x08;

/** SR-IOV capabilities. @kernel PCI_SRIOV_CAP */
export const PCI_SRIOV_CAP = 0x04;
/** SR-IOV control (VF Enable bit 0). @kernel PCI_SRIOV_CTRL */
export const PCI_SRIOV_CTRL = 0x08;
/** SR-IOV control: VF Enable. @kernel PCI_SRIOV_CTRL_VFE */
export const PCI_SRIOV_CTRL_VFE = 0x01;
/** SR-IOV control: VF memory space enable. @kernel PCI_SRIOV_CTRL_MSE */
export const PCI_SRIOV_CTRL_MSE = 0x08;
/** SR-IOV status. @kernel PCI_SRIOV_STATUS */
export const PCI_SRIOV_STATUS = 0x0a;
/** SR-IOV InitialVFs. @kernel PCI_SRIOV_INITIAL_VF */
export const PCI_SRIOV_INITIAL_VF = 0x0c;
/** SR-IOV TotalVFs. @kernel PCI_SRIOV_TOTAL_VF */
export const PCI_SRIOV_TOTAL_VF = 0x0e;
/** SR-IOV NumVFs. @kernel PCI_SRIOV_NUM_VF */
export const PCI_SRIOV_NUM_VF = 0x10;
/** SR-IOV function dependency link. @kernel PCI_SRIOV_FUNC_LINK */
export const PCI_SRIOV_FUNC_LINK = 0x12;
/** SR-IOV First VF Offset (routing-ID distance). @kernel PCI_SRIOV_VF_OFFSET */
export const PCI_SRIOV_VF_OFFSET = 0x14;
/** SR-IOV VF Stride. @kernel PCI_SRIOV_VF_STRIDE */
export const PCI_SRIOV_VF_STRIDE = 0x16;
/** SR-IOV VF Device ID. @kernel PCI_SRIOV_VF_DID */
export const PCI_SRIOV_VF_DID = 0x1a;
/** SR-IOV supported page sizes. @kernel PCI_SRIOV_SUP_PGSIZE */
export const PCI_SRIOV_SUP_PGSIZE = 0x1c;
/** SR-IOV system page size. @kernel PCI_SRIOV_SYS_PGSIZE */
export const PCI_SRIOV_SYS_PGSIZE = 0x20;
/** SR-IOV VF BAR 0 (six dwords). @kernel PCI_SRIOV_BAR */
export const PCI_SRIOV_BAR = 0x24;
/** Size of the SR-IOV capability. @kernel PCI_EXT_CAP_SRIOV_SIZEOF */
export const PCI_SRIOV_SIZEOF = 0x40;

const RO = 'none (read-only)';
const STORED = 'stored; no other effect in the model';

/**
 * The PCI Express capability's registers (version 2 layout), relative to the capability.
 * @kernel pci_regs.h, "PCI Express capability registers"
 */
export const PCI_EXP_REGISTERS: readonly ConfigRegister[] = [
  { offset: PCI_CAP_LIST_ID, width: 1, name: 'PCI_CAP_LIST_ID', access: 'ro', effect: RO },
  { offset: PCI_CAP_LIST_NEXT, width: 1, name: 'PCI_CAP_LIST_NEXT', access: 'ro', effect: RO },
  { offset: PCI_EXP_FLAGS, width: 2, name: 'PCI_EXP_FLAGS', access: 'ro', effect: RO },
  { offset: PCI_EXP_DEVCAP, width: 4, name: 'PCI_EXP_DEVCAP', access: 'ro', effect: RO },
  {
    offset: PCI_EXP_DEVCTL,
    width: 2,
    name: 'PCI_EXP_DEVCTL',
    access: 'rw',
    mask: 0x7fff,
    effect: 'stored; the payload field is the MPS the fabric reports per link (the performance model reads it)',
  },
  { offset: PCI_EXP_DEVSTA, width: 2, name: 'PCI_EXP_DEVSTA', access: 'rw1c', mask: 0x000f, effect: 'error bits cleared by writing 1' },
  { offset: PCI_EXP_LNKCAP, width: 4, name: 'PCI_EXP_LNKCAP', access: 'ro', effect: RO },
  { offset: PCI_EXP_LNKCTL, width: 2, name: 'PCI_EXP_LNKCTL', access: 'rw', mask: 0x0ffb, effect: STORED + ' (links do not retrain)' },
  { offset: PCI_EXP_LNKSTA, width: 2, name: 'PCI_EXP_LNKSTA', access: 'rw1c', mask: 0xc000, effect: 'bandwidth notification bits cleared by writing 1' },
  { offset: 0x14, width: 4, name: 'PCI_EXP_SLTCAP', access: 'ro', effect: RO },
  { offset: 0x18, width: 2, name: 'PCI_EXP_SLTCTL', access: 'rw', effect: STORED },
  { offset: 0x1a, width: 2, name: 'PCI_EXP_SLTSTA', access: 'rw1c', mask: 0x011f, effect: 'event bits cleared by writing 1' },
  { offset: 0x1c, width: 2, name: 'PCI_EXP_RTCTL', access: 'rw', effect: STORED },
  { offset: 0x1e, width: 2, name: 'PCI_EXP_RTCAP', access: 'ro', effect: RO },
  { offset: 0x20, width: 4, name: 'PCI_EXP_RTSTA', access: 'rw1c', mask: 0x00010000, effect: 'PME status cleared by writing 1' },
  { offset: 0x24, width: 4, name: 'PCI_EXP_DEVCAP2', access: 'ro', effect: RO },
  { offset: 0x28, width: 2, name: 'PCI_EXP_DEVCTL2', access: 'rw', effect: STORED },
  { offset: 0x2a, width: 2, name: 'PCI_EXP_DEVSTA2', access: 'ro', effect: RO },
  { offset: PCI_EXP_LNKCAP2, width: 4, name: 'PCI_EXP_LNKCAP2', access: 'ro', effect: RO },
  { offset: 0x30, width: 2, name: 'PCI_EXP_LNKCTL2', access: 'rw', effect: STORED },
  { offset: 0x32, width: 2, name: 'PCI_EXP_LNKSTA2', access: 'ro', effect: RO },
  { offset: 0x34, width: 4, name: 'PCI_EXP_SLTCAP2', access: 'ro', effect: RO },
  { offset: 0x38, width: 2, name: 'PCI_EXP_SLTCTL2', access: 'rw', effect: STORED },
  { offset: 0x3a, width: 2, name: 'PCI_EXP_SLTSTA2', access: 'ro', effect: RO },
];

/**
 * The ACS extended capability's registers, relative to the capability. The control register's
 * writable bits are the bits the capability implements (set per function at enumeration).
 * @kernel pci_regs.h, "Access Control Service"
 */
export const PCI_ACS_REGISTERS: readonly ConfigRegister[] = [
  { offset: 0x00, width: 4, name: 'PCI_EXT_CAP_HEADER(ACS)', access: 'ro', effect: RO },
  { offset: PCI_ACS_CAP, width: 2, name: 'PCI_ACS_CAP', access: 'ro', effect: RO },
  {
    offset: PCI_ACS_CTRL,
    width: 2,
    name: 'PCI_ACS_CTRL',
    access: 'rw',
    mask: 0,
    effect: 'routing: Request Redirect on a switch downstream port sends peer requests up to the root complex (the fabric re-routes)',
  },
];

/**
 * The SR-IOV extended capability's registers, relative to the capability.
 * @kernel pci_regs.h, "Single Root I/O Virtualization"
 */
export const PCI_SRIOV_REGISTERS: readonly ConfigRegister[] = [
  { offset: 0x00, width: 4, name: 'PCI_EXT_CAP_HEADER(SRIOV)', access: 'ro', effect: RO },
  { offset: PCI_SRIOV_CAP, width: 4, name: 'PCI_SRIOV_CAP', access: 'ro', effect: RO },
  {
    offset: PCI_SRIOV_CTRL,
    width: 2,
    name: 'PCI_SRIOV_CTRL',
    access: 'rw',
    mask: 0x001f,
    effect: 'stored; the VFs of a topology exist from enumeration (VF Enable neither creates nor removes them)',
  },
  { offset: PCI_SRIOV_STATUS, width: 2, name: 'PCI_SRIOV_STATUS', access: 'rw1c', mask: 0x0001, effect: 'cleared by writing 1' },
  { offset: PCI_SRIOV_INITIAL_VF, width: 2, name: 'PCI_SRIOV_INITIAL_VF', access: 'ro', effect: RO },
  { offset: PCI_SRIOV_TOTAL_VF, width: 2, name: 'PCI_SRIOV_TOTAL_VF', access: 'ro', effect: RO },
  { offset: PCI_SRIOV_NUM_VF, width: 2, name: 'PCI_SRIOV_NUM_VF', access: 'rw', effect: STORED },
  { offset: PCI_SRIOV_FUNC_LINK, width: 1, name: 'PCI_SRIOV_FUNC_LINK', access: 'ro', effect: RO },
  { offset: PCI_SRIOV_VF_OFFSET, width: 2, name: 'PCI_SRIOV_VF_OFFSET', access: 'ro', effect: RO },
  { offset: PCI_SRIOV_VF_STRIDE, width: 2, name: 'PCI_SRIOV_VF_STRIDE', access: 'ro', effect: RO },
  { offset: PCI_SRIOV_VF_DID, width: 2, name: 'PCI_SRIOV_VF_DID', access: 'ro', effect: RO },
  { offset: PCI_SRIOV_SUP_PGSIZE, width: 4, name: 'PCI_SRIOV_SUP_PGSIZE', access: 'ro', effect: RO },
  { offset: PCI_SRIOV_SYS_PGSIZE, width: 4, name: 'PCI_SRIOV_SYS_PGSIZE', access: 'rw', effect: STORED },
  { offset: 0x3c, width: 4, name: 'PCI_SRIOV_VFM', access: 'ro', effect: RO },
];

/** Longest standard capability chain walked (the kernel's PCI_FIND_CAP_TTL). */
const PCI_FIND_CAP_TTL = 48;

/**
 * Finds a standard capability.
 * @param dev the function.
 * @param cap a `PCI_CAP_ID_*`.
 * @returns the capability's offset in config space, or 0 when absent.
 * @kernel pci_find_capability
 */
export function pciFindCapability(dev: PciDev, cap: number): number {
  const cfg = dev.config;
  if ((cfg.read(PCI_STATUS, 2) & PCI_STATUS_CAP_LIST) === 0) return 0;
  let pos = cfg.read(PCI_CAPABILITY_LIST, 1);
  for (let ttl = PCI_FIND_CAP_TTL; ttl > 0; ttl--) {
    if (pos < 0x40) break;
    pos &= ~3;
    const ent = cfg.read(pos, 2);
    const id = ent & 0xff;
    if (id === 0xff) break;
    if (id === cap) return pos;
    pos = ent >> 8;
  }
  return 0;
}

/**
 * Finds an extended capability (PCI Express functions only).
 * @param dev the function.
 * @param cap a `PCI_EXT_CAP_ID_*`.
 * @returns the capability's offset (>= 0x100), or 0 when absent or the function has no
 *   extended configuration space.
 * @kernel pci_find_ext_capability
 */
export function pciFindExtCapability(dev: PciDev, cap: number): number {
  const cfg = dev.config;
  if (cfg.size <= PCI_CFG_SPACE_SIZE) return 0;
  let pos = PCI_CFG_SPACE_SIZE;
  let header = cfg.read(pos, 4);
  if (header === 0) return 0;
  for (let ttl = (cfg.size - PCI_CFG_SPACE_SIZE) / 8; ttl > 0; ttl--) {
    if (PCI_EXT_CAP_ID(header) === cap) return pos;
    pos = PCI_EXT_CAP_NEXT(header);
    if (pos < PCI_CFG_SPACE_SIZE) break;
    header = cfg.read(pos, 4);
  }
  return 0;
}
