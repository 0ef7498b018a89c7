/**
 * Where the target's I/O buffers come from: the two P2P policies, as a table of hooks the core
 * calls at controller creation and release, namespace enable and disable, and per request.
 *
 * `v2` (seed patch 10, "nvmet: Optionally use PCI P2P memory"):
 * - At controller creation, if the port has `allow_p2pmem` and the transport gave a DMA client
 *   (the RDMA device), that client and the block device of every enabled namespace join the
 *   controller's client list (a namespace whose queue lacks `QUEUE_FLAG_PCI_P2PDMA` fails with
 *   `peer-to-peer DMA is not supported by <path>`), and `pci_p2pmem_find` picks the first
 *   published provider behind the same switch as all of them. Any failure: the list is freed
 *   and the controller silently uses System RAM (`no supported peer-to-peer memory devices
 *   found`, or the error line of the failing step). Success: `using peer-to-peer memory on
 *   <bdf>`; every I/O queue (never the admin queue) of the controller allocates from it.
 * - Enabling a namespace while such a controller exists adds the namespace to its list; if that
 *   fails (no P2P queue: `-EINVAL`; another switch: `-EXDEV`; virtual DMA or no PCI device:
 *   `-ENODEV`) the namespace is removed from every list again and the enable fails. Before any
 *   controller uses p2pmem, any namespace may be enabled.
 * - Disabling a namespace removes its device from every controller's list (every entry of its
 *   PCI function, as `pci_p2pdma_remove_client` does); freeing the controller frees the list.
 *
 * `upstream` (Linux 6.6):
 * - Each namespace has a `p2pmem` setting (off, automatic, or a named provider). Enabling a
 *   namespace with it on checks its queue (`peer-to-peer DMA is not supported by the driver of
 *   <path>`) and that a provider is reachable from its device (named provider: distance ≥ 0;
 *   automatic: `no peer-to-peer memory is available for <path>`), `-EINVAL` otherwise.
 * - Each controller records the transport's DMA device and maps every such namespace to a
 *   provider: the named one if the RDMA device reaches it, else the closest one both reach
 *   (`pci_p2pmem_find_many`, ties at random); `using p2pmem on <bdf> for nsid <n>`, or `no
 *   peer-to-peer memory is available that's supported by <rdma dev> and <path>` (System RAM).
 * - Each I/O request uses its namespace's provider.
 *
 * Both: an allocation that fails falls back to System RAM for that command only, silently.
 *
 * @kernel drivers/nvme/target/core.c (seed patch 10: nvmet_p2pdma_add_client,
 *   nvmet_setup_p2pmem, nvmet_release_p2pmem, the nvmet_ns_enable/disable hunks; 6.6:
 *   nvmet_p2pmem_ns_enable, nvmet_p2pmem_ns_add_p2p, nvmet_setup_p2p_ns_map,
 *   nvmet_release_p2p_ns_map, nvmet_req_find_p2p_dev), rdma.c (seed nvmet_rdma_map_sgl_keyed)
 */
import type { KResult, P2pdmaPolicy } from '@p2pdma/kernel';
import { err } from '@p2pdma/kernel';
import { blkQueuePciP2pdma } from '@p2pdma/blk';
import type { PciDev } from '@p2pdma/pci-core';
import { pciName } from '@p2pdma/pci-core';
import {
  pciP2pdmaAddClient,
  pciP2pdmaClientListFree,
  pciP2pdmaDistance,
  pciP2pdmaRemoveClient,
  pciP2pmemFind,
  pciP2pmemFindMany,
} from '@p2pdma/p2pdma';
import type { NvmetCtrl } from './ctrl';
import type { NvmetNs } from './ns';
import { nvmetNsDev } from './ns';
import type { NvmetReq } from './req';

/** The hooks one policy gives the core. */
export interface NvmetP2pPolicy {
  /** Which kernel's behaviour the hooks reproduce. */
  readonly kernel: string;
  /**
   * A controller was created by an admin Connect.
   * @param ctrl the controller (not yet on the subsystem's list).
   * @param req the Connect request (port, `p2pClient`).
   */
  ctrlSetup(ctrl: NvmetCtrl, req: NvmetReq): void;
  /** The controller is being freed. @param ctrl the controller. */
  ctrlRelease(ctrl: NvmetCtrl): void;
  /**
   * A namespace is being enabled (its block device is open).
   * @param ns the namespace.
   * @returns `0`, or the errno that fails the enable (after undoing this hook's changes).
   */
  nsEnable(ns: NvmetNs): KResult;
  /**
   * A namespace is being disabled: forget it for one controller.
   * @param ns the namespace.
   * @param ctrl a controller of its subsystem.
   */
  nsDisable(ns: NvmetNs, ctrl: NvmetCtrl): void;
  /**
   * The P2P device a request's buffer should come from.
   * @param req a parsed request.
   * @returns the provider, or `null` for System RAM.
   */
  reqFindP2pDev(req: NvmetReq): PciDev | null;
}

/** Seed: add a namespace's device to a controller's client list (`nvmet_p2pdma_add_client`). */
function seedAddNsClient(ctrl: NvmetCtrl, ns: NvmetNs): KResult {
  const log = ctrl.target.kernel.log;
  if (!blkQueuePciP2pdma(ns.bdev!.disk.queue)) {
    log.prErr(`nvmet: peer-to-peer DMA is not supported by ${ns.devicePath}`);
    return err('EINVAL');
  }
  const ret = pciP2pdmaAddClient(ctrl.p2pClients, nvmetNsDev(ns));
  if (ret !== 0) log.prErr(`nvmet: failed to add peer-to-peer DMA client ${ns.devicePath}: ${ret}`);
  return ret;
}

const SEED_POLICY: NvmetP2pPolicy = {
  kernel: 'seed v2 patch 10',
  ctrlSetup(ctrl, req) {
    const log = ctrl.target.kernel.log;
    if (req.port === null || !req.port.allowP2pmem || req.p2pClient === null) return;
    const ret = pciP2pdmaAddClient(ctrl.p2pClients, req.p2pClient);
    if (ret !== 0) {
      log.prErr(`nvmet: failed adding peer-to-peer DMA client ${req.p2pClient.name}: ${ret}`);
      pciP2pdmaClientListFree(ctrl.p2pClients);
      return;
    }
    for (const ns of ctrl.subsys.namespaces) {
      if (seedAddNsClient(ctrl, ns) !== 0) {
        pciP2pdmaClientListFree(ctrl.p2pClients);
        return;
      }
    }
    const dev = pciP2pmemFind(ctrl.p2pClients);
    if (dev === null) {
      log.prInfo('nvmet: no supported peer-to-peer memory devices found');
      pciP2pdmaClientListFree(ctrl.p2pClients);
      return;
    }
    ctrl.p2pDev = dev;
    log.prInfo(`nvmet: using peer-to-peer memory on ${pciName(dev)}`);
  },
  ctrlRelease(ctrl) {
    if (ctrl.p2pDev === null) return;
    pciP2pdmaClientListFree(ctrl.p2pClients);
    ctrl.p2pDev = null;
  },
  nsEnable(ns) {
    const ctrls = ns.subsys.ctrls;
    for (const ctrl of ctrls) {
      if (ctrl.p2pDev === null) continue;
      const ret = seedAddNsClient(ctrl, ns);
      if (ret !== 0) {
        for (const c of ctrls) pciP2pdmaRemoveClient(c.p2pClients, nvmetNsDev(ns));
        return ret;
      }
    }
    return 0;
  },
  nsDisable(ns, ctrl) {
    if (ns.bdev !== null) pciP2pdmaRemoveClient(ctrl.p2pClients, nvmetNsDev(ns));
  },
  reqFindP2pDev(req) {
    const ctrl = req.sq.ctrl;
    if (ctrl === null || req.sq.qid === 0) return null;
    return ctrl.p2pDev;
  },
};

/** 6.6 `nvmet_p2pmem_ns_enable`: can this namespace use p2pmem at all? */
function upstreamNsCheck(ns: NvmetNs): KResult {
  const log = ns.subsys.target.kernel.log;
  if (!ns.useP2pmem) return 0;
  if (!blkQueuePciP2pdma(ns.bdev!.disk.queue)) {
    log.prErr(`nvmet: peer-to-peer DMA is not supported by the driver of ${ns.devicePath}`);
    return err('EINVAL');
  }
  if (ns.p2pDev !== null) {
    if (pciP2pdmaDistance(ns.p2pDev, nvmetNsDev(ns), true) < 0) return err('EINVAL');
    return 0;
  }
  if (pciP2pmemFindMany([nvmetNsDev(ns)]) === null) {
    log.prErr(`nvmet: no peer-to-peer memory is available for ${ns.devicePath}`);
    return err('EINVAL');
  }
  return 0;
}

/** 6.6 `nvmet_p2pmem_ns_add_p2p`: pick this controller's provider for a namespace. */
function upstreamAddP2p(ctrl: NvmetCtrl, ns: NvmetNs): void {
  const log = ctrl.target.kernel.log;
  const client = ctrl.p2pClient;
  if (client === null || !ns.useP2pmem) return;
  let dev: PciDev | null;
  if (ns.p2pDev !== null) {
    if (pciP2pdmaDistance(ns.p2pDev, client, true) < 0) return;
    dev = ns.p2pDev;
  } else {
    dev = pciP2pmemFindMany([client, nvmetNsDev(ns)]);
    if (dev === null) {
      log.prErr(`nvmet: no peer-to-peer memory is available that's supported by ${client.name} and ${ns.devicePath}`);
      return;
    }
  }
  ctrl.p2pNsMap.set(ns.nsid, dev);
  log.prInfo(`nvmet: using p2pmem on ${pciName(dev)} for nsid ${ns.nsid}`);
}

const UPSTREAM_POLICY: NvmetP2pPolicy = {
  kernel: 'Linux 6.6',
  ctrlSetup(ctrl, req) {
    if (req.p2pClient === null) return;
    ctrl.p2pClient = req.p2pClient;
    for (const ns of ctrl.subsys.namespaces) upstreamAddP2p(ctrl, ns);
  },
  ctrlRelease(ctrl) {
    ctrl.p2pNsMap.clear();
    ctrl.p2pClient = null;
  },
  nsEnable(ns) {
    const ret = upstreamNsCheck(ns);
    if (ret !== 0) return ret;
    for (const ctrl of ns.subsys.ctrls) upstreamAddP2p(ctrl, ns);
    return 0;
  },
  nsDisable(ns, ctrl) {
    ctrl.p2pNsMap.delete(ns.nsid);
  },
  reqFindP2pDev(req) {
    const ctrl = req.sq.ctrl;
    if (!ctrl?.target.kernel.config.CONFIG_PCI_P2PDMA || req.sq.qid === 0 || req.ns === null) return null;
    return ctrl.p2pNsMap.get(req.ns.nsid) ?? null;
  },
};

/**
 * The P2P policy hooks per kernel policy.
 * @kernel seed v2 patch 10 / Linux 6.6 drivers/nvme/target/core.c
 */
export const NVMET_P2P_POLICY: Readonly<Record<P2pdmaPolicy, NvmetP2pPolicy>> = {
  v2: SEED_POLICY,
  upstream: UPSTREAM_POLICY,
};

/**
 * The P2P device a request's data buffer should come from under the kernel's policy.
 * @param req a parsed request.
 * @returns the provider, or `null` for System RAM (admin queue, no P2P setup, no namespace).
 * @kernel nvmet_req_find_p2p_dev (6.6); rsp->queue->nvme_sq.ctrl->p2p_dev for qid ≠ 0 (seed)
 */
export function nvmetReqFindP2pDev(req: NvmetReq): PciDev | null {
  const ctrl = req.sq.ctrl;
  if (ctrl === null) return null;
  return NVMET_P2P_POLICY[ctrl.target.policy].reqFindP2pDev(req);
}
