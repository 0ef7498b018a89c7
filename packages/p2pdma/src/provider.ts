/**
 * P2PDMA providers: registering a BAR range as peer-to-peer memory, publishing it, and the
 * provider's teardown when its driver unbinds or the device goes away.
 *
 * `pciP2pdmaAddResource` checks the BAR (memory, offset inside, size 0 = the rest, size + offset
 * within), sets the provider up on first use (pool, `p2pmem/` sysfs group, the devres release),
 * gives the range struct pages (`devmMemremapPages`, type `MEMORY_DEVICE_PCI_P2PDMA`, with the
 * bus offset = bus address − CPU address of the BAR) and adds it to the pool with the **bus**
 * address as the chunk's "physical" address, as both the seed and 6.6 do.
 *
 * The two policies differ in data, not in code paths (`P2PDMA_PROVIDER_RULES`):
 * - `v2` (seed patches 01-03): one `devmap_ref` shared by every pagemap, killed by a devres action
 *   per resource; a failed `p2pmem/` group creation is ignored (patch 02 assigns the error and
 *   returns 0); a failed pool add leaves the pages mapped until unbind; unpublishing a device
 *   without p2pdma dereferences NULL; the log line prints the range with `%pR`.
 * - `upstream` (Linux 6.6): each pagemap owns its reference (taken per allocation through the
 *   pool's owner cookie); a failed group creation fails the setup and leaves nothing; a failed
 *   pool add unmaps the pages again; unpublishing without p2pdma is ignored; the log line prints
 *   `%#llx-%#llx`.
 *
 * Removal: the devres release waits (without blocking the model) until every allocation is back:
 * `v2` waits for `devmap_ref_done`, 6.6 for each pagemap's `done` (its unbind thread blocks in
 * `memunmap_pages`). Meanwhile `pciP2pdmaRemovalPending` is `true` and allocations fail; then the
 * pool is destroyed, the group removed, `pdev->p2pdma` cleared and `PciP2pdma.released` completes.
 *
 * @kernel drivers/pci/p2pdma.c (pci_p2pdma_setup, pci_p2pdma_add_resource, pci_p2pdma_release,
 *   pci_p2pdma_percpu_kill, pci_p2pmem_publish, pci_has_p2pmem)
 */
import type { KResult, NegErrno, P2pdmaPolicy } from '@p2pdma/kernel';
import {
  DevPagemap,
  devmAdd,
  devmMemremapPages,
  devmMemunmapPages,
  err,
  hex,
  isErr,
  KernelBug,
  MEMORY_DEVICE_PCI_P2PDMA,
  PAGE_SIZE,
  sysfsCreateGroup,
  sysfsRemoveGroup,
} from '@p2pdma/kernel';
import type { PciDev } from '@p2pdma/pci-core';
import { formatResource, IORESOURCE_MEM, pciBusAddress, pciResourceFlags, pciResourceLen, pciResourceStart } from '@p2pdma/pci-core';
import { whenAllDone } from './internal/completions';
import { p2pmemAttributeGroup } from './p2pmem-sysfs';
import { PciP2pdma, pciP2pdma, setPagemapProvider, setPciP2pdma } from './pci-p2pdma';
import { P2PDMA_STUBS } from './stubs';

/** How one policy sets a provider up and tears it down. */
export interface P2pdmaProviderRules {
  /** The kernel the rules describe. */
  readonly kernel: string;
  /** Whether a failed `p2pmem/` group creation fails the setup (6.6) or is ignored (seed). */
  readonly sysfsFailureFatal: boolean;
  /** Whether all pagemaps share the provider's `devmap_ref` (seed) or own their reference (6.6). */
  readonly sharedDevmapRef: boolean;
  /** Whether a failed pool add unmaps the pages again (6.6 `pages_free`) or leaves them mapped (seed). */
  readonly unmapOnPoolAddFailure: boolean;
  /** Whether unpublishing a device without p2pdma dereferences NULL (seed) or is ignored (6.6). */
  readonly unpublishWithoutP2pdmaOopses: boolean;
  /**
   * The `added peer-to-peer DMA memory` line.
   * @param start first CPU address. @param end last CPU address. @param flags the BAR's flags.
   */
  readonly addedMessage: (start: number, end: number, flags: number) => string;
}

/**
 * The provider rules per policy.
 * @kernel pci_p2pdma_setup / pci_p2pdma_add_resource / pci_p2pmem_publish (seed v2 and 6.6)
 */
export const P2PDMA_PROVIDER_RULES: Readonly<Record<P2pdmaPolicy, P2pdmaProviderRules>> = {
  v2: {
    kernel: 'seed v2 patches 01-03',
    sysfsFailureFatal: false,
    sharedDevmapRef: true,
    unmapOnPoolAddFailure: false,
    unpublishWithoutP2pdmaOopses: true,
    addedMessage: (start, end, flags) => `added peer-to-peer DMA memory ${formatResource({ start, end, flags })}`,
  },
  upstream: {
    kernel: 'Linux 6.6',
    sysfsFailureFatal: true,
    sharedDevmapRef: false,
    unmapOnPoolAddFailure: true,
    unpublishWithoutP2pdmaOopses: false,
    addedMessage: (start, end) => `added peer-to-peer DMA memory ${hex(start)}-${hex(end)}`,
  },
};

/** A `size_t`/`u64` argument: a non-negative safe integer (anything else is a huge value in C). */
function isU64(n: number): boolean {
  return Number.isSafeInteger(n) && n >= 0;
}

/** Runs once the devres release is reached: waits for the memory, then frees everything. */
function release(p2p: PciP2pdma, group: ReturnType<typeof p2pmemAttributeGroup>): void {
  const pdev = p2p.pdev;
  if (pciP2pdma(pdev) !== p2p) return;
  p2p.lifecycle = 'removing';
  const teardown = (): void => {
    setPciP2pdma(pdev, null);
    p2p.pool.destroy();
    const kobj = pdev.kernel.sysfs.deviceKobj(pdev);
    // The seed removes the group even when its creation failed: sysfs warns that it is missing.
    if (kobj !== null && !kobj.removed) sysfsRemoveGroup(kobj, group);
    p2p.mapTypes.clear();
  };
  const finish = (): void => {
    p2p.lifecycle = 'released';
    p2p.released.complete();
  };
  const ref = p2p.devmapRef;
  if (ref !== null) {
    // Seed: wait_for_completion(&devmap_ref_done), percpu_ref_exit, gen_pool_destroy, remove group.
    p2p.devmapRefDone!.onDone(() => {
      ref.exit();
      teardown();
      whenAllDone(
        p2p.pagemaps.map((p) => p.done),
        finish,
      );
    });
    return;
  }
  // 6.6: the devres releases of the pagemaps ran first and block until their refs drain.
  whenAllDone(
    p2p.pagemaps.map((p) => p.done),
    () => {
      teardown();
      finish();
    },
  );
}

function setup(pdev: PciDev, policy: P2pdmaPolicy): PciP2pdma | NegErrno {
  const rules = P2PDMA_PROVIDER_RULES[policy];
  const kobj = pdev.kernel.sysfs.deviceKobj(pdev);
  if (kobj === null) throw new KernelBug(`pci_p2pdma_setup(${pdev.name}): the device is not registered`);
  const p2p = new PciP2pdma(pdev, policy);
  const ref = p2p.devmapRef;
  if (ref !== null) ref.init(() => p2p.devmapRefDone!.complete());
  const group = p2pmemAttributeGroup(p2p);
  const ret = sysfsCreateGroup(kobj, group);
  if (ret !== 0 && rules.sysfsFailureFatal) {
    p2p.pool.destroy();
    return ret;
  }
  p2p.sysfsGroupCreated = ret === 0;
  devmAdd(pdev, 'pci_p2pdma_release', () => release(p2p, group));
  setPciP2pdma(pdev, p2p);
  return p2p;
}

/**
 * Registers part of a memory BAR as peer-to-peer memory.
 * @param pdev the provider (registered; normally during its driver's probe, so the memory goes
 *   away when the driver unbinds).
 * @param bar resource index (a BAR, 0-5).
 * @param size bytes; `0` means the rest of the BAR after `offset`.
 * @param offset bytes into the BAR.
 * @returns `0`, or:
 *   `-EINVAL` when the resource is not memory (I/O BAR, unused or unknown index), `offset` is not
 *   inside it (a zero-length BAR always fails here), `size + offset` runs past it, or (6.6) the
 *   range is not 2 MiB aligned (memremap's `Misaligned __add_pages`);
 *   `-ENOMEM` when the range conflicts with mapped device memory (memremap) or the pool cannot
 *   take the chunk (fault site `FAULT_GENPOOL_ADD`);
 *   `-ENXIO` when the range touches System RAM or `CONFIG_ZONE_DEVICE` is off;
 *   6.6 only: the errno of a failed `p2pmem/` group creation (nothing is left behind).
 *   With `CONFIG_PCI_P2PDMA` off: the header stub (seed `0`, 6.6 `-EOPNOTSUPP`).
 *   Bad arguments change nothing. After a setup, a later failure keeps the (empty) provider
 *   state, as the kernel does; under `v2` a failed pool add also keeps the pages mapped until
 *   unbind (the seed's leak).
 * @throws KernelBug when the device is not registered or its removal is in progress.
 * @kernel pci_p2pdma_add_resource
 */
export function pciP2pdmaAddResource(pdev: PciDev, bar: number, size: number, offset: number): KResult {
  const kernel = pdev.kernel;
  if (!kernel.config.CONFIG_PCI_P2PDMA) return P2PDMA_STUBS[kernel.policy].addResource;
  const rules = P2PDMA_PROVIDER_RULES[kernel.policy];
  const flags = pciResourceFlags(pdev, bar);
  const len = pciResourceLen(pdev, bar);
  if ((flags & IORESOURCE_MEM) === 0) return err('EINVAL');
  if (!isU64(offset) || offset >= len) return err('EINVAL');
  if (!isU64(size)) return err('EINVAL');
  const bytes = size === 0 ? len - offset : size;
  if (bytes + offset > len) return err('EINVAL');

  let p2p = pciP2pdma(pdev);
  if (p2p !== null && p2p.lifecycle !== 'live') {
    throw new KernelBug(`pci_p2pdma_add_resource(${pdev.name}): the provider is being removed`);
  }
  if (p2p === null) {
    const r = setup(pdev, kernel.policy);
    if (isErr(r)) return r;
    p2p = r;
  }

  const cpuStart = pciResourceStart(pdev, bar);
  const busStart = pciBusAddress(pdev, bar);
  const start = cpuStart + offset;
  const end = start + bytes - 1;
  const pgmap = new DevPagemap({
    type: MEMORY_DEVICE_PCI_P2PDMA,
    range: { start, end },
    owner: pdev,
    ...(p2p.devmapRef !== null ? { ref: p2p.devmapRef } : {}),
    pciP2pdmaBusOffset: busStart - cpuStart,
  });
  const addr = devmMemremapPages(pdev, pgmap);
  if (isErr(addr)) return addr;
  setPagemapProvider(pgmap, pdev);
  p2p.pagemaps.push(pgmap);

  // The pool tracks whole pages (gen_pool's bitmap granule); a range that does not start or end
  // on a page boundary contributes only the pages inside it.
  const chunkVirt = Math.ceil(addr / PAGE_SIZE) * PAGE_SIZE;
  const chunkEnd = Math.floor((addr + bytes) / PAGE_SIZE) * PAGE_SIZE;
  if (chunkEnd > chunkVirt) {
    const owner = p2p.devmapRef ?? pgmap.ref;
    const ret = p2p.pool.addVirt(chunkVirt, busStart + offset + (chunkVirt - addr), chunkEnd - chunkVirt, -1, owner);
    if (ret !== 0) {
      if (rules.unmapOnPoolAddFailure) {
        devmMemunmapPages(pdev, pgmap);
        p2p.pagemaps.pop();
      }
      return ret;
    }
  }
  const ref = p2p.devmapRef;
  if (rules.sharedDevmapRef && ref !== null) {
    devmAdd(pdev, 'pci_p2pdma_percpu_kill', () => {
      if (!ref.isDying()) ref.kill();
    });
  }
  kernel.log.devInfo(pdev, rules.addedMessage(start, end, flags));
  return 0;
}

/**
 * Publishes (or withdraws) a provider's memory for `pciP2pmemFind*`.
 * @param pdev the provider.
 * @param publish `true` to publish, `false` to withdraw.
 * @throws KernelBug under `v2` when withdrawing on a device without p2pdma: the seed's
 *   `pdev->p2pdma->published = false` dereferences NULL (6.6 ignores the call). Publishing a
 *   device without p2pdma is ignored in both. Nothing happens with `CONFIG_PCI_P2PDMA` off.
 * @kernel pci_p2pmem_publish
 */
export function pciP2pmemPublish(pdev: PciDev, publish: boolean): void {
  const kernel = pdev.kernel;
  if (!kernel.config.CONFIG_PCI_P2PDMA) return;
  const p2p = pciP2pdma(pdev);
  if (p2p === null) {
    if (!publish && P2PDMA_PROVIDER_RULES[kernel.policy].unpublishWithoutP2pdmaOopses) {
      throw new KernelBug(`kernel NULL pointer dereference in pci_p2pmem_publish(${pdev.name}, false): the device has no p2pdma (seed v2 patch 01)`);
    }
    return;
  }
  p2p.published = publish;
}

/**
 * Whether a function has published p2pmem.
 * @param pdev the function.
 * @returns `true` when it has p2pdma and published it (`false` with `CONFIG_PCI_P2PDMA` off).
 * @kernel pci_has_p2pmem
 */
export function pciHasP2pmem(pdev: PciDev): boolean {
  if (!pdev.kernel.config.CONFIG_PCI_P2PDMA) return false;
  return pciP2pdma(pdev)?.published === true;
}
