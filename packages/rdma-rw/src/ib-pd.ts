/**
 * Protection domains and the local DMA lkey: the key SGEs of kernel ULPs (rw.c) carry, valid for
 * every DMA address of the device.
 *
 * A device with a reserved lkey (`IB_DEVICE_LOCAL_DMA_LKEY`, mlx5) hands it to every PD; a
 * device without one (rxe) gets a DMA memory region per PD, whose lkey becomes the PD's
 * `localDmaLkey`, as `__ib_alloc_pd` does.
 *
 * @kernel include/rdma/ib_verbs.h (struct ib_pd), drivers/infiniband/core/verbs.c
 *   (__ib_alloc_pd, ib_dealloc_pd)
 */
import type { NegErrno } from '@p2pdma/kernel';
import { err, WARN_ON } from '@p2pdma/kernel';
import type { IbDevice } from './ib-device';

/**
 * A protection domain.
 * @kernel struct ib_pd
 */
export class IbPd {
  /** QPs (and other objects) using it. @kernel ib_pd.usecnt */
  usecnt = 0;
  private dead = false;

  /**
   * @param device the device.
   * @param localDmaLkey the lkey valid for any DMA address of the device.
   * @internal use `ibAllocPd`.
   */
  constructor(
    readonly device: IbDevice,
    readonly localDmaLkey: number,
  ) {}

  /** Whether `ibDeallocPd` released it. */
  get deallocated(): boolean {
    return this.dead;
  }

  /** @internal used by `ibDeallocPd`. */
  markDeallocated(): void {
    this.dead = true;
  }
}

/**
 * Allocates a protection domain.
 * @param device the RDMA device.
 * @returns the PD (the caller owns it until `ibDeallocPd`), or `-ENODEV` for an unregistered
 *   device.
 * @kernel ib_alloc_pd
 */
export function ibAllocPd(device: IbDevice): IbPd | NegErrno {
  if (!device.registered) return err('ENODEV');
  const lkey = device.localDmaLkey ?? (device.nextKeyIndex++ << 8) >>> 0;
  return new IbPd(device, lkey);
}

/**
 * Frees a protection domain. A PD still in use is warned about and kept (`WARN_ON(usecnt)`).
 * @param pd the PD.
 * @returns nothing; the PD is released unless it is still in use.
 * @kernel ib_dealloc_pd
 */
export function ibDeallocPd(pd: IbPd): void {
  if (WARN_ON(pd.device.kernel.log, pd.usecnt !== 0, `ib_dealloc_pd: ${pd.device.name} PD still used by ${pd.usecnt} object(s)`)) return;
  pd.markDeallocated();
}
