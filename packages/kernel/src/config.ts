/**
 * Kernel configuration: the Kconfig booleans the model reads, and the P2PDMA policy.
 *
 * The policy is not a Kconfig symbol: it selects which generation of the P2PDMA rules the model
 * runs (`'v2'`: the 2018 seed series; `'upstream'`: Linux 6.6). Every P2PDMA entry point reads
 * it from its kernel's config.
 *
 * @kernel .config / Kconfig
 */

/** The Kconfig booleans the model reads. @kernel CONFIG_* */
export interface Kconfig {
  /** PCI peer-to-peer DMA support. @kernel CONFIG_PCI_P2PDMA */
  CONFIG_PCI_P2PDMA: boolean;
  /** Device memory (ZONE_DEVICE) with struct pages. @kernel CONFIG_ZONE_DEVICE */
  CONFIG_ZONE_DEVICE: boolean;
  /** IOMMU drivers and the IOMMU API. @kernel CONFIG_IOMMU_SUPPORT */
  CONFIG_IOMMU_SUPPORT: boolean;
  /** DMA API debugging (mapping leak and misuse checks). @kernel CONFIG_DMA_API_DEBUG */
  CONFIG_DMA_API_DEBUG: boolean;
  /** The NVMe PCIe host driver. @kernel CONFIG_BLK_DEV_NVME */
  CONFIG_BLK_DEV_NVME: boolean;
  /** The NVMe over Fabrics RDMA target. @kernel CONFIG_NVME_TARGET_RDMA */
  CONFIG_NVME_TARGET_RDMA: boolean;
  /** PCI SR-IOV. @kernel CONFIG_PCI_IOV */
  CONFIG_PCI_IOV: boolean;
}

/** Which P2PDMA rules the model runs: the 2018 v2 seed series or today's upstream (6.6). */
export type P2pdmaPolicy = 'v2' | 'upstream';

/** Every policy, in a fixed order (for CLIs and table-driven tests). */
export const P2PDMA_POLICIES: readonly P2pdmaPolicy[] = ['v2', 'upstream'];

/** A kernel's full configuration: Kconfig booleans plus the P2PDMA policy. */
export interface KernelConfig extends Kconfig {
  /** The P2PDMA rules in force. Default `'upstream'`. */
  p2pdmaPolicy: P2pdmaPolicy;
}

/** The configuration a `Kernel` gets when it is given none: everything on, upstream policy. */
export const DEFAULT_KERNEL_CONFIG: Readonly<KernelConfig> = Object.freeze({
  CONFIG_PCI_P2PDMA: true,
  CONFIG_ZONE_DEVICE: true,
  CONFIG_IOMMU_SUPPORT: true,
  CONFIG_DMA_API_DEBUG: true,
  CONFIG_BLK_DEV_NVME: true,
  CONFIG_NVME_TARGET_RDMA: true,
  CONFIG_PCI_IOV: true,
  p2pdmaPolicy: 'upstream',
});

/** Thrown for invalid kernel construction options (config keys, memory layout): user input. */
export class ConfigError extends Error {
  /**
   * @param option the option at fault (`'config.CONFIG_FOO'`, `'systemRam[1]'`).
   * @param reason why it is rejected.
   */
  constructor(
    readonly option: string,
    readonly reason: string,
  ) {
    super(`invalid kernel option ${option}: ${reason}`);
    this.name = 'ConfigError';
  }
}

/**
 * Builds a frozen configuration from the defaults and overrides.
 * @param overrides keys to change; `undefined` values are ignored.
 * @returns the configuration (frozen; a kernel's config never changes after boot).
 * @throws ConfigError for an unknown key, a non-boolean Kconfig value or an unknown policy.
 */
export function makeKernelConfig(overrides: Partial<KernelConfig> = {}): Readonly<KernelConfig> {
  const out: KernelConfig = { ...DEFAULT_KERNEL_CONFIG };
  for (const [key, value] of Object.entries(overrides)) {
    if (value === undefined) continue;
    if (!(key in DEFAULT_KERNEL_CONFIG)) throw new ConfigError(`config.${key}`, 'unknown option');
    if (key === 'p2pdmaPolicy') {
      if (!P2PDMA_POLICIES.includes(value as P2pdmaPolicy)) {
        throw new ConfigError('config.p2pdmaPolicy', `${JSON.stringify(value)} is not one of ${P2PDMA_POLICIES.join(', ')}`);
      }
      out.p2pdmaPolicy = value as P2pdmaPolicy;
    } else {
      if (typeof value !== 'boolean') throw new ConfigError(`config.${key}`, `${JSON.stringify(value)} is not a boolean`);
      out[key as keyof Kconfig] = value;
    }
  }
  return Object.freeze(out);
}
