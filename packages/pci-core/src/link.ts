/**
 * PCI Express link speeds and raw capacity, for the performance model.
 *
 * Capacity per direction = transfer rate (GT/s) × lanes × encoding efficiency / 8 bits:
 * 8b/10b for Gen1-2, 128b/130b for Gen3-5, and 1b/1b for Gen6, whose FLIT mode has no line
 * encoding (its FLIT framing, CRC and FEC overhead, like TLP headers, belongs to the performance
 * model's efficiency factor, not to this raw figure). Gen3 x4 ≈ 3.94 GB/s; Gen4 x16 ≈ 31.5 GB/s.
 *
 * @kernel drivers/pci/pci.c (pcie_bandwidth_available, PCIE_SPEED2MBS_ENC), PCIe Base Spec 6.0
 */

/** One PCIe generation's signalling. */
export interface PcieSpeed {
  /** Generation 1-6. */
  readonly gen: number;
  /** Transfer rate per lane in GT/s. */
  readonly gts: number;
  /** Encoding name. */
  readonly encoding: '8b/10b' | '128b/130b' | '1b/1b (FLIT)';
  /** Payload bits per transferred bit. */
  readonly efficiency: number;
  /** The kernel's name for the speed (`8.0 GT/s PCIe`). */
  readonly name: string;
}

/** Speeds by generation. @kernel pci_speed_string / enum pci_bus_speed */
export const PCIE_SPEEDS: readonly PcieSpeed[] = [
  { gen: 1, gts: 2.5, encoding: '8b/10b', efficiency: 8 / 10, name: '2.5 GT/s PCIe' },
  { gen: 2, gts: 5, encoding: '8b/10b', efficiency: 8 / 10, name: '5.0 GT/s PCIe' },
  { gen: 3, gts: 8, encoding: '128b/130b', efficiency: 128 / 130, name: '8.0 GT/s PCIe' },
  { gen: 4, gts: 16, encoding: '128b/130b', efficiency: 128 / 130, name: '16.0 GT/s PCIe' },
  { gen: 5, gts: 32, encoding: '128b/130b', efficiency: 128 / 130, name: '32.0 GT/s PCIe' },
  { gen: 6, gts: 64, encoding: '1b/1b (FLIT)', efficiency: 1, name: '64.0 GT/s PCIe' },
];

/**
 * Raw capacity of a link in one direction.
 * @param gen generation 1-6.
 * @param width lanes (1, 2, 4, 8, 12, 16, 32).
 * @returns bytes per second, or `null` for an unknown generation or a non-positive width.
 */
export function linkCapacityBytesPerSec(gen: number, width: number): number | null {
  const s = PCIE_SPEEDS[gen - 1];
  if (s === undefined || !Number.isInteger(width) || width <= 0) return null;
  return (s.gts * 1e9 * width * s.efficiency) / 8;
}
