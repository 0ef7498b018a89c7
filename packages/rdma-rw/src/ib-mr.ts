/**
 * Memory region access flags: what a registered region lets the local device and remote peers
 * do with it.
 *
 * @kernel include/rdma/ib_verbs.h (enum ib_access_flags)
 */

/** The local device may write the region (receives, RDMA READ responses). @kernel IB_ACCESS_LOCAL_WRITE */
export const IB_ACCESS_LOCAL_WRITE = 1 << 0;
/** Remote peers may RDMA WRITE into the region. @kernel IB_ACCESS_REMOTE_WRITE */
export const IB_ACCESS_REMOTE_WRITE = 1 << 1;
/** Remote peers may RDMA READ from the region. @kernel IB_ACCESS_REMOTE_READ */
export const IB_ACCESS_REMOTE_READ = 1 << 2;
/** Remote atomics (not modelled; accepted and ignored). @kernel IB_ACCESS_REMOTE_ATOMIC */
export const IB_ACCESS_REMOTE_ATOMIC = 1 << 3;

/** Every access bit the model knows. */
export const IB_ACCESS_ALL = IB_ACCESS_LOCAL_WRITE | IB_ACCESS_REMOTE_WRITE | IB_ACCESS_REMOTE_READ | IB_ACCESS_REMOTE_ATOMIC;

/** Access bit → its kernel name, for messages. */
export const IB_ACCESS_NAMES: Readonly<Record<number, string>> = {
  [IB_ACCESS_LOCAL_WRITE]: 'IB_ACCESS_LOCAL_WRITE',
  [IB_ACCESS_REMOTE_WRITE]: 'IB_ACCESS_REMOTE_WRITE',
  [IB_ACCESS_REMOTE_READ]: 'IB_ACCESS_REMOTE_READ',
  [IB_ACCESS_REMOTE_ATOMIC]: 'IB_ACCESS_REMOTE_ATOMIC',
};
