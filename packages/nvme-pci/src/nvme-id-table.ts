/**
 * The PCI IDs the nvme driver binds to, with their quirks, in table order (the first match
 * wins): Linux 4.16's table, abridged to the entries listed here, plus the seed's two
 * pseudo-CMB adaptors before the class match.
 *
 * @kernel drivers/nvme/host/pci.c nvme_id_table (4.16 + seed patch 09)
 */
import type { PciDeviceId } from '@p2pdma/pci-core';
import { PCI_ANY_ID } from '@p2pdma/pci-core';
import {
  NVME_QUIRK_DEALLOCATE_ZEROES,
  NVME_QUIRK_DELAY_BEFORE_CHK_RDY,
  NVME_QUIRK_IDENTIFY_CNS,
  NVME_QUIRK_LIGHTNVM,
  NVME_QUIRK_NO_DEEPEST_PS,
  NVME_QUIRK_PSEUDO_CMB_BAR4,
  NVME_QUIRK_STRIPE_SIZE,
} from './nvme-quirks';

/** Intel's vendor ID. @kernel PCI_VENDOR_ID_INTEL */
export const PCI_VENDOR_ID_INTEL = 0x8086;
/** Apple's vendor ID. @kernel PCI_VENDOR_ID_APPLE */
export const PCI_VENDOR_ID_APPLE = 0x106b;
/** Samsung's vendor ID. @kernel PCI_VENDOR_ID_SAMSUNG */
export const PCI_VENDOR_ID_SAMSUNG = 0x144d;
/** Mass storage / non-volatile memory controller (class 01 08). @kernel PCI_CLASS_STORAGE_EXPRESS */
export const PCI_CLASS_STORAGE_EXPRESS = 0x0108;

/** One entry: a PCI ID with the quirks in `driverData` and a comment naming the part. */
export interface NvmeIdEntry extends PciDeviceId {
  /** Quirk flags (`NVME_QUIRK_*`). */
  readonly driverData: number;
  /** What the part is. */
  readonly comment: string;
}

const dev = (vendor: number, device: number, driverData: number, comment: string): NvmeIdEntry => ({ vendor, device, driverData, comment });

/** The table. */
export const NVME_ID_TABLE: readonly NvmeIdEntry[] = [
  dev(PCI_VENDOR_ID_INTEL, 0x0953, NVME_QUIRK_STRIPE_SIZE | NVME_QUIRK_DEALLOCATE_ZEROES, 'Intel SSD DC P3700'),
  dev(PCI_VENDOR_ID_INTEL, 0x0a53, NVME_QUIRK_STRIPE_SIZE | NVME_QUIRK_DEALLOCATE_ZEROES, 'Intel SSD DC P3520'),
  dev(PCI_VENDOR_ID_INTEL, 0x0a54, NVME_QUIRK_STRIPE_SIZE | NVME_QUIRK_DEALLOCATE_ZEROES, 'Intel SSD DC P4500'),
  dev(PCI_VENDOR_ID_INTEL, 0x0a55, NVME_QUIRK_STRIPE_SIZE | NVME_QUIRK_DEALLOCATE_ZEROES, 'Intel SSD DC P4600 (dual port)'),
  dev(PCI_VENDOR_ID_INTEL, 0xf1a5, NVME_QUIRK_NO_DEEPEST_PS, 'Intel 600P/P3100'),
  dev(PCI_VENDOR_ID_INTEL, 0x5845, NVME_QUIRK_IDENTIFY_CNS, 'Qemu emulated controller'),
  dev(0x1c58, 0x0003, NVME_QUIRK_DELAY_BEFORE_CHK_RDY, 'HGST adapter'),
  dev(0x1c58, 0x0023, NVME_QUIRK_DELAY_BEFORE_CHK_RDY, 'WDC SN200 adapter'),
  dev(0x1c5f, 0x0540, NVME_QUIRK_DELAY_BEFORE_CHK_RDY, 'Memblaze Pblaze4 adapter'),
  dev(PCI_VENDOR_ID_SAMSUNG, 0xa821, NVME_QUIRK_DELAY_BEFORE_CHK_RDY, 'Samsung PM1725'),
  dev(PCI_VENDOR_ID_SAMSUNG, 0xa822, NVME_QUIRK_DELAY_BEFORE_CHK_RDY, 'Samsung PM1725a'),
  dev(0x1d1d, 0x1f1f, NVME_QUIRK_LIGHTNVM, 'LightNVM qemu device'),
  dev(0x1d1d, 0x2807, NVME_QUIRK_LIGHTNVM, 'CNEX WL'),
  dev(0x11f8, 0xf117, NVME_QUIRK_PSEUDO_CMB_BAR4, 'Microsemi NVRAM adaptor'),
  dev(0x1db1, 0x0002, NVME_QUIRK_PSEUDO_CMB_BAR4, 'Everspin nvNitro adaptor'),
  { vendor: PCI_ANY_ID, device: PCI_ANY_ID, classCode: (PCI_CLASS_STORAGE_EXPRESS << 8) | 0x02, classMask: 0xffffff, driverData: 0, comment: 'any NVMe controller (class 01 08 02)' },
  dev(PCI_VENDOR_ID_APPLE, 0x2001, 0, 'Apple MacBook8,1 NVMe'),
  dev(PCI_VENDOR_ID_APPLE, 0x2003, 0, 'Apple NVMe'),
];
