/**
 * Namespaces: a subsystem's NSID backed by a block device (`device_path`), enabled and
 * disabled through configfs. Enabling opens the device, runs the P2P checks of the policy
 * (`NVMET_P2P_POLICY`: seed patch 10's client lists, or 6.6's per-namespace `p2pmem`), inserts
 * the namespace in NSID order and tells every controller (asynchronous event). Disabling
 * removes it from lookups at once and finishes once the I/O in flight on it is done.
 *
 * @kernel drivers/nvme/target/nvmet.h (struct nvmet_ns, nvmet_ns_dev), core.c
 *   (nvmet_ns_alloc, nvmet_ns_enable, nvmet_ns_disable, nvmet_ns_free, nvmet_find_namespace,
 *   nvmet_put_namespace, nvmet_ns_changed), io-cmd-bdev.c (nvmet_bdev_ns_enable)
 */
import type { Device, KResult } from '@p2pdma/kernel';
import { err, isErr, KernelBug, PercpuRef } from '@p2pdma/kernel';
import type { PciDev } from '@p2pdma/pci-core';
import { nvmetAddAsyncEvent } from './async-event';
import type { BlockDevice } from './bdev';
import { bdevLogicalBlockSize, bdevSizeBytes, blkdevGetByPath } from './bdev';
import type { NvmetCtrl } from './ctrl';
import { NVME_AEN_CFG_NS_ATTR, NVME_AER_NOTICE_NS_CHANGED, NVME_AER_TYPE_NOTICE, NVME_LOG_CHANGED_NS, NVME_MAX_CHANGED_NAMESPACES } from './nvme-identify';
import { NVMET_P2P_POLICY } from './p2pmem';
import type { NvmetSubsys } from './subsys';

/** Most namespaces a subsystem may enable (6.6; `NVMET_RULES.upstream.maxNamespaces`). @kernel NVMET_MAX_NAMESPACES */
export const NVMET_MAX_NAMESPACES = 1024;
/** The changed-namespace list overflowed: it reads as this one entry. */
export const NVME_NSID_ALL = 0xffffffff;

/**
 * A namespace.
 * @kernel struct nvmet_ns
 */
export class NvmetNs {
  /** The subsystem. */
  readonly subsys: NvmetSubsys;
  /** The NSID. */
  readonly nsid: number;
  /** The block device path, or `null` until set. @kernel device_path */
  devicePath: string | null = null;
  /** The open block device while enabled. @kernel ns->bdev */
  bdev: BlockDevice | null = null;
  /** Whether the namespace is enabled. */
  enabled = false;
  /** A disable is waiting for I/O in flight (the model's non-blocking `wait_for_completion`). */
  disabling = false;
  /** Size in bytes (set on enable). */
  size = 0;
  /** log2 of the logical block size (set on enable). */
  blksizeShift = 9;
  /** Namespace UUID (random at creation). @kernel ns->uuid */
  readonly uuid: Uint8Array;
  /** Namespace GUID (zero until set). @kernel ns->nguid */
  readonly nguid = new Uint8Array(16);
  /** 6.6: use p2pmem for this namespace (`p2pmem` attribute true or a device). @kernel use_p2pmem */
  useP2pmem = false;
  /** 6.6: the P2P device the `p2pmem` attribute named, or `null` for automatic. @kernel ns->p2p_dev */
  p2pDev: PciDev | null = null;
  /** Requests in flight on the namespace. @kernel ns->ref */
  ref: PercpuRef;

  /**
   * @param subsys the subsystem.
   * @param nsid the NSID.
   * @internal use `nvmetNsAlloc`.
   */
  constructor(subsys: NvmetSubsys, nsid: number) {
    this.subsys = subsys;
    this.nsid = nsid;
    this.uuid = new Uint8Array(16);
    subsys.target.kernel.rng.fill(this.uuid);
    // RFC 4122 version 4, variant 1 (uuid_gen).
    this.uuid[6] = (this.uuid[6]! & 0x0f) | 0x40;
    this.uuid[8] = (this.uuid[8]! & 0x3f) | 0x80;
    this.ref = new PercpuRef(`nvmet ns ${nsid}`);
  }
}

/**
 * Creates a namespace item (disabled, no device).
 * @param subsys the subsystem.
 * @param nsid the NSID (1 .. 0xfffffffe).
 * @returns the namespace (registered in `subsys.nsItems`).
 * @kernel nvmet_ns_alloc
 */
export function nvmetNsAlloc(subsys: NvmetSubsys, nsid: number): NvmetNs {
  const ns = new NvmetNs(subsys, nsid);
  subsys.nsItems.set(nsid, ns);
  return ns;
}

/**
 * The namespace's block device `struct device` (its DMA client).
 * @param ns an enabled namespace.
 * @returns the device.
 * @throws KernelBug for a namespace without a block device (NULL dereference).
 * @kernel nvmet_ns_dev
 */
export function nvmetNsDev(ns: NvmetNs): Device {
  if (ns.bdev === null) throw new KernelBug(`nvmet_ns_dev: namespace ${ns.nsid} has no block device`);
  return ns.bdev.device;
}

/**
 * Records a namespace change for every controller and raises the notice: 6.6 adds the NSID to
 * each controller's Changed Namespace List and raises `NS_CHANGED` with log page 4 (unless
 * masked until the log is read); 4.16 raises a notice with info 0 and no log page.
 * @param subsys the subsystem.
 * @param nsid the namespace that changed.
 * @kernel nvmet_ns_changed (6.6) / nvmet_add_async_event(ctrl, NVME_AER_TYPE_NOTICE, 0, 0) (4.16)
 */
export function nvmetNsChanged(subsys: NvmetSubsys, nsid: number): void {
  const logged = subsys.target.rules.changedNsLog;
  for (const ctrl of subsys.ctrls) {
    if (!logged) {
      nvmetAddAsyncEvent(ctrl, NVME_AER_TYPE_NOTICE, 0, 0);
      continue;
    }
    addToChangedNsLog(ctrl, nsid);
    if ((ctrl.aenEnabled & NVME_AEN_CFG_NS_ATTR) === 0 || ctrl.aenMaskedNsAttr) continue;
    ctrl.aenMaskedNsAttr = true;
    nvmetAddAsyncEvent(ctrl, NVME_AER_TYPE_NOTICE, NVME_AER_NOTICE_NS_CHANGED, NVME_LOG_CHANGED_NS);
  }
}

function addToChangedNsLog(ctrl: NvmetCtrl, nsid: number): void {
  const list = ctrl.changedNsList;
  if (list.length === 1 && list[0] === NVME_NSID_ALL && ctrl.changedNsOverflow) return;
  if (list.includes(nsid)) return;
  if (list.length === NVME_MAX_CHANGED_NAMESPACES) {
    list.length = 0;
    list.push(NVME_NSID_ALL);
    ctrl.changedNsOverflow = true;
    return;
  }
  list.push(nsid);
}

/**
 * Enables a namespace: opens `device_path`, checks P2P compatibility as the policy says, and
 * makes it visible to hosts.
 * @param ns the namespace.
 * @returns `0` (also when already enabled); `-EINVAL` without a device path; the open's errno
 *   (`-ENOENT`: `failed to open block device <path>: (-2)`); `-EMFILE` past
 *   `NVMET_MAX_NAMESPACES` (6.6); `-EBUSY` while a disable is still draining; the P2P check's
 *   errno (seed: `-EINVAL` for a queue without P2P support, `-EXDEV`/`-ENODEV` from the client
 *   list of a controller using p2pmem; 6.6: `-EINVAL` for a `p2pmem` setting the device cannot
 *   use). On failure the namespace stays disabled and nothing else changes.
 * @kernel nvmet_ns_enable
 */
export function nvmetNsEnable(ns: NvmetNs): KResult {
  const subsys = ns.subsys;
  const t = subsys.target;
  const log = t.kernel.log;
  if (ns.enabled) return 0;
  if (ns.disabling) return err('EBUSY');
  if (t.rules.maxNamespaces !== null && subsys.namespaces.length >= t.rules.maxNamespaces) return err('EMFILE');
  const bdev = ns.devicePath === null ? err('EINVAL') : blkdevGetByPath(t.kernel, ns.devicePath);
  if (isErr(bdev)) {
    log.prErr(`nvmet: failed to open block device ${ns.devicePath ?? '(null)'}: (${bdev})`);
    return bdev;
  }
  ns.bdev = bdev;
  ns.size = bdevSizeBytes(bdev);
  ns.blksizeShift = Math.log2(bdevLogicalBlockSize(bdev));
  const p2p = NVMET_P2P_POLICY[t.policy];
  const ret = p2p.nsEnable(ns);
  if (ret !== 0) {
    ns.bdev = null;
    return ret;
  }
  ns.ref = new PercpuRef(`nvmet ns ${ns.nsid}`);
  ns.ref.init(() => undefined);
  if (ns.nsid > subsys.maxNsid) subsys.maxNsid = ns.nsid;
  const at = subsys.namespaces.findIndex((o) => o.nsid > ns.nsid);
  subsys.namespaces.splice(at < 0 ? subsys.namespaces.length : at, 0, ns);
  nvmetNsChanged(subsys, ns.nsid);
  ns.enabled = true;
  return 0;
}

/**
 * Disables a namespace: new commands for it fail with `INVALID_NS` at once; once the requests
 * in flight on it are done, the policy's P2P state for it is dropped (seed: removed from every
 * controller's client list; 6.6: from every controller's namespace map), controllers are told,
 * and the block device is released. The kernel's configfs write blocks until then; the model
 * returns and finishes when the last request completes (`ns.disabling` meanwhile).
 * @param ns the namespace.
 * @kernel nvmet_ns_disable
 */
export function nvmetNsDisable(ns: NvmetNs): void {
  const subsys = ns.subsys;
  const t = subsys.target;
  if (!ns.enabled) return;
  ns.enabled = false;
  ns.disabling = true;
  const i = subsys.namespaces.indexOf(ns);
  if (i >= 0) subsys.namespaces.splice(i, 1);
  const p2p = NVMET_P2P_POLICY[t.policy];
  const atOnce = t.rules.nsDisableP2pDrop === 'at-once';
  if (atOnce) {
    subsys.maxNsid = subsys.namespaces.reduce((m, o) => Math.max(m, o.nsid), 0);
    for (const ctrl of subsys.ctrls) p2p.nsDisable(ns, ctrl);
  }
  ns.ref.released.onDone(() => {
    ns.ref.exit();
    if (!atOnce) for (const ctrl of subsys.ctrls) p2p.nsDisable(ns, ctrl);
    nvmetNsChanged(subsys, ns.nsid);
    ns.bdev = null;
    ns.disabling = false;
  });
  ns.ref.kill();
}

/**
 * Removes a namespace item (configfs `rmdir`): disables it first.
 * @param ns the namespace.
 * @kernel nvmet_ns_free
 */
export function nvmetNsFree(ns: NvmetNs): void {
  nvmetNsDisable(ns);
  ns.subsys.nsItems.delete(ns.nsid);
}

/**
 * Looks an enabled namespace up for a request and takes a reference on it.
 * @param ctrl the controller.
 * @param nsid the NSID from the command.
 * @returns the namespace, or `null` when no enabled namespace has that NSID.
 * @kernel nvmet_find_namespace
 */
export function nvmetFindNamespace(ctrl: NvmetCtrl, nsid: number): NvmetNs | null {
  const ns = ctrl.subsys.namespaces.find((n) => n.nsid === nsid);
  if (ns === undefined || !ns.ref.tryGetLive()) return null;
  return ns;
}

/**
 * Drops a request's namespace reference (the last one lets a pending disable finish).
 * @param ns the namespace.
 * @kernel nvmet_put_namespace
 */
export function nvmetPutNamespace(ns: NvmetNs): void {
  ns.ref.put();
}
