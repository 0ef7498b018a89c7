/**
 * Which of the performance model's sourced device rates (`@p2pdma/cli`'s `DEVICE_RATES`) apply to
 * which device of the machine, by PCI `vendor:device`. The fabric counters give the bytes on
 * links, DRAM, root complexes and BARs; the NIC port and the drives' media are device resources
 * the counters do not see, and the BAR memory rates need to know which functions are providers.
 *
 * These are the same assignments `p2pdma simulate` makes (the CLI keeps its table private); the
 * test pins this example's throughput and bottleneck to `runScenario`'s for every placement and
 * policy, so the two cannot drift apart.
 *
 * @kernel — (hardware rates below the kernel)
 */
import type { DeviceRateName } from '@p2pdma/cli';
import type { PciDev } from '@p2pdma/pci-core';

/** A drive's sustained media rates. */
export interface MediaRates {
  /** Rate for reading the media (host reads). */
  readonly read: DeviceRateName;
  /** Rate for writing the media (host writes). */
  readonly write: DeviceRateName;
}

/** NVMe media rates by `vendor:device` (lower-case hex). */
export const MEDIA_RATES: Readonly<Record<string, MediaRates>> = {
  // Intel SSD DC P3700.
  '8086:0953': { read: 'p3700-read', write: 'p3700-write' },
  // Eideticom NoLoad: the namespace lives in the same FPGA DDR4 as its CMB.
  '1de5:2000': { read: 'noload-cmb', write: 'noload-cmb' },
};

/** BAR memory rates of P2P providers by `vendor:device`. */
export const BAR_RATES: Readonly<Record<string, DeviceRateName>> = {
  // Eideticom NoLoad's CMB.
  '1de5:2000': 'noload-cmb',
  // Eideticom IO Memory Controller (the p2pmem card).
  '1de5:1000': 'p2pmem-bar',
};

/** NIC port rates by `vendor:device`. */
export const NIC_RATES: Readonly<Record<string, DeviceRateName>> = {
  // Mellanox ConnectX-5.
  '15b3:1017': 'connectx5-100g-port',
};

/**
 * A function's `vendor:device` key for the tables above.
 * @param d the function.
 * @returns lower-case hex `vvvv:dddd`; an ID the input did not give reads `????`.
 */
export function pciIdKey(d: PciDev): string {
  const h = (n: number | null) => (n === null ? '????' : n.toString(16).padStart(4, '0'));
  return `${h(d.vendor)}:${h(d.device)}`;
}

/**
 * Looks a device up in one of the tables.
 * @param table {@link MEDIA_RATES}, {@link BAR_RATES} or {@link NIC_RATES}.
 * @param d the function.
 * @returns the entry, or `undefined` when the table has none for its IDs.
 */
export function rateOf<T>(table: Readonly<Record<string, T>>, d: PciDev): T | undefined {
  const k = pciIdKey(d);
  return Object.hasOwn(table, k) ? table[k] : undefined;
}
