/**
 * Default rates for the performance model (DESIGN section 5): the devices of the modelled machines
 * and the root complex's peer-forwarding rate per host bridge profile. Every entry carries the
 * source of its figure; figures no vendor publishes are labelled `assumption` in their source.
 * Rates are bytes per second per direction, decimal units (1 GB/s = 1e9 B/s), as datasheets quote them.
 *
 * @kernel — (hardware figures below the kernel; the profiles are pci-core's `PeerForwarding`)
 */
import type { PeerForwarding } from '@p2pdma/pci-core';

/** What a rate limits: the resource kinds the model knows. */
export type PerfResourceKind = 'link' | 'dram' | 'root-complex' | 'nic-port' | 'nvme-media' | 'bar-memory';

/** One device rate with where the figure comes from. */
export interface DeviceRate {
  /** The kind of resource it limits. */
  readonly kind: PerfResourceKind;
  /** Bytes per second (per direction for ports; total for shared media such as DRAM). */
  readonly bytesPerSec: number;
  /** What the figure is. */
  readonly label: string;
  /** Where the figure comes from (`datasheet`, spec, or an explicit `assumption: ...`). */
  readonly source: string;
}

/** Names of the default device rates. */
export type DeviceRateName =
  | 'connectx5-100g-port'
  | 'ddr4-2400-channel'
  | 'xeon-e5-v4-dram'
  | 'p3700-read'
  | 'p3700-write'
  | 'noload-cmb'
  | 'p2pmem-bar';

/** 1 GB/s in bytes per second (decimal, as datasheets count). */
export const GB_PER_SEC = 1e9;

/** DDR4-2400: 2400 MT/s on a 64-bit (8-byte) channel. */
const DDR4_2400_CHANNEL = 2400e6 * 8;

/** Channels per socket of an Intel Xeon E5 v4 (Broadwell-EP) memory controller. */
const XEON_E5_V4_CHANNELS = 4;

/** The default device rates, by name. */
export const DEVICE_RATES: Readonly<Record<DeviceRateName, DeviceRate>> = {
  'connectx5-100g-port': {
    kind: 'nic-port',
    bytesPerSec: 100e9 / 8,
    label: 'Mellanox ConnectX-5 100 Gb/s Ethernet/InfiniBand EDR port, per direction (12.5 GB/s)',
    source: 'datasheet: Mellanox ConnectX-5 EN product brief, "up to 100Gb/s" per port; 100e9 b/s / 8 = 12.5 GB/s',
  },
  'ddr4-2400-channel': {
    kind: 'dram',
    bytesPerSec: DDR4_2400_CHANNEL,
    label: 'one DDR4-2400 channel (19.2 GB/s peak, reads and writes together)',
    source: 'JEDEC JESD79-4 DDR4 speed bin 2400 MT/s x 64-bit channel = 19.2 GB/s peak',
  },
  'xeon-e5-v4-dram': {
    kind: 'dram',
    bytesPerSec: XEON_E5_V4_CHANNELS * DDR4_2400_CHANNEL,
    label: 'Intel Xeon E5 v4 socket: 4 DDR4-2400 channels (76.8 GB/s peak)',
    source: 'datasheet: Intel ARK, Xeon E5-2600 v4 family "Max Memory Bandwidth 76.8 GB/s" (4 channels x 19.2 GB/s)',
  },
  'p3700-read': {
    kind: 'nvme-media',
    bytesPerSec: 2.8 * GB_PER_SEC,
    label: 'Intel SSD DC P3700 sequential read (128 KiB) 2.8 GB/s',
    source: 'datasheet: Intel SSD DC P3700 Series product specification, sequential read up to 2800 MB/s',
  },
  'p3700-write': {
    kind: 'nvme-media',
    bytesPerSec: 1.9 * GB_PER_SEC,
    label: 'Intel SSD DC P3700 sequential write (128 KiB) 1.9 GB/s',
    source: 'datasheet: Intel SSD DC P3700 Series product specification, sequential write up to 1900 MB/s',
  },
  'noload-cmb': {
    kind: 'bar-memory',
    bytesPerSec: 8 * GB_PER_SEC,
    label: 'Eideticom NoLoad controller memory buffer (BAR 2), 8 GB/s',
    source:
      'assumption: no published CMB bandwidth; the CMB sits in FPGA DDR4 behind a Gen3 x8 link (7.88 GB/s raw), so the model assumes 8 GB/s and the link stays the limit',
  },
  'p2pmem-bar': {
    kind: 'bar-memory',
    bytesPerSec: 8 * GB_PER_SEC,
    label: 'Eideticom IO Memory Controller p2pmem (BAR 4), 8 GB/s',
    source:
      'assumption: no published BAR memory bandwidth; DDR4 behind a Gen3 x8 link (7.88 GB/s raw), so the model assumes 8 GB/s and the link stays the limit',
  },
};

/** A root complex's peer-forwarding rate for one host bridge profile. */
export interface ForwardingRate {
  /** Bytes per second the root complex forwards between root ports (0: it drops them). */
  readonly bytesPerSec: number;
  /** Where the figure comes from. */
  readonly source: string;
}

/** Root complex peer-forwarding rates by host bridge profile (`PeerForwarding` of pci-core). */
export const ROOT_COMPLEX_FORWARDING_RATES: Readonly<Record<PeerForwarding, ForwardingRate>> = {
  forward: {
    bytesPerSec: 6 * GB_PER_SEC,
    source:
      'assumption: conservative; Intel publishes no peer-to-peer forwarding rate for its root complexes and measured root-port-to-root-port rates on Xeon E5 hosts vary widely and stay below the links; 6 GB/s is below a Gen3 x8 link (7.88 GB/s raw)',
  },
  drop: {
    bytesPerSec: 0,
    source: "pci-core's 'drop' profile: the root complex discards peer requests, so it forwards nothing",
  },
};
