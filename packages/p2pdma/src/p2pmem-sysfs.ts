/**
 * The `p2pmem/` sysfs group of a provider (seed patch 02): `size` (bytes in the pool),
 * `available` (bytes not allocated) and `published` (`1` or `0`), each printed as a decimal
 * number and a newline, read-only.
 *
 * Not modelled: 6.6's `allocate` binary attribute (user-space mmap of p2pmem).
 *
 * @kernel drivers/pci/p2pdma.c (size_show, available_show, published_show, p2pmem_group)
 */
import type { AttributeGroup } from '@p2pdma/kernel';
import { SYSFS_MODE_RO } from '@p2pdma/kernel';
import type { PciP2pdma } from './pci-p2pdma';

/** The group's directory name. */
export const P2PMEM_GROUP_NAME = 'p2pmem';

/**
 * Builds the attribute group reading one provider's state.
 * @param p2p the provider state the files show.
 * @returns the group (`sysfsCreateGroup` it on the provider's kobject).
 * @kernel p2pmem_group
 */
export function p2pmemAttributeGroup(p2p: PciP2pdma): AttributeGroup {
  return {
    name: P2PMEM_GROUP_NAME,
    attrs: [
      { name: 'size', mode: SYSFS_MODE_RO, show: () => `${p2p.pool.size()}\n` },
      { name: 'available', mode: SYSFS_MODE_RO, show: () => `${p2p.pool.avail()}\n` },
      { name: 'published', mode: SYSFS_MODE_RO, show: () => `${p2p.published ? 1 : 0}\n` },
    ],
  };
}
