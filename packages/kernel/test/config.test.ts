import { describe, expect, it } from 'vitest';
import type { KernelConfig } from '../src/index';
import { ConfigError, DEFAULT_KERNEL_CONFIG, Kernel, makeKernelConfig } from '../src/index';

describe('KernelConfig (Kconfig booleans + P2PDMA policy)', () => {
  it('defaults: everything the model needs is on, upstream policy (DESIGN.md section 3)', () => {
    expect(DEFAULT_KERNEL_CONFIG).toEqual({
      CONFIG_PCI_P2PDMA: true,
      CONFIG_ZONE_DEVICE: true,
      CONFIG_IOMMU_SUPPORT: true,
      CONFIG_DMA_API_DEBUG: true,
      CONFIG_BLK_DEV_NVME: true,
      CONFIG_NVME_TARGET_RDMA: true,
      CONFIG_PCI_IOV: true,
      p2pdmaPolicy: 'upstream',
    });
    const k = new Kernel();
    expect(k.config).toEqual(DEFAULT_KERNEL_CONFIG);
    expect(k.policy).toBe('upstream');
    expect(Object.isFrozen(k.config)).toBe(true);
  });

  it('applies overrides; the policy option wins over config.p2pdmaPolicy', () => {
    const k = new Kernel({ config: { CONFIG_PCI_P2PDMA: false, p2pdmaPolicy: 'upstream' }, policy: 'v2' });
    expect(k.config.CONFIG_PCI_P2PDMA).toBe(false);
    expect(k.config.CONFIG_ZONE_DEVICE).toBe(true);
    expect(k.policy).toBe('v2');
    expect(k.config.p2pdmaPolicy).toBe('v2');
  });

  it('rejects unknown keys, non-boolean values and unknown policies, naming the option', () => {
    expect(() => makeKernelConfig({ CONFIG_FOO: true } as unknown as Partial<KernelConfig>)).toThrow(
      new ConfigError('config.CONFIG_FOO', 'unknown option'),
    );
    expect(() => makeKernelConfig({ CONFIG_PCI_P2PDMA: 'y' } as unknown as Partial<KernelConfig>)).toThrow(
      'invalid kernel option config.CONFIG_PCI_P2PDMA: "y" is not a boolean',
    );
    expect(() => new Kernel({ policy: 'v3' as unknown as 'v2' })).toThrow('config.p2pdmaPolicy: "v3" is not one of v2, upstream');
  });

  it('refuses iommu: true without CONFIG_IOMMU_SUPPORT', () => {
    expect(() => new Kernel({ iommu: true, config: { CONFIG_IOMMU_SUPPORT: false } })).toThrow(ConfigError);
  });
});
