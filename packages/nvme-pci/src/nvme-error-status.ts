/**
 * Completion status → block layer status, as the core maps a finished request's NVMe status
 * (`status & 0x7ff`, i.e. without More/DNR) to the `blk_status_t` it ends with. One table per
 * policy: Linux 4.16's and Linux 6.6's; anything not listed is `BLK_STS_IOERR`.
 *
 * 6.6 differences: Invalid Opcode/Field/Namespace and Conflicting Attributes become "not
 * supported", LBA Out of Range, Command Interrupted and Namespace Not Ready become "target",
 * Host Path Error becomes "transport". 6.6's `BLK_STS_RESV_CONFLICT` is the 4.16
 * `BLK_STS_NEXUS` value renamed; the zoned statuses are not modelled.
 *
 * @kernel drivers/nvme/host/core.c nvme_error_status (4.16 and 6.6)
 */
import type { P2pdmaPolicy } from '@p2pdma/kernel';
import type { BlkStatus } from '@p2pdma/blk';
import {
  BLK_STS_IOERR,
  BLK_STS_MEDIUM,
  BLK_STS_NEXUS,
  BLK_STS_NOSPC,
  BLK_STS_NOTSUPP,
  BLK_STS_OK,
  BLK_STS_PROTECTION,
  BLK_STS_TARGET,
  BLK_STS_TRANSPORT,
} from '@p2pdma/blk';
import type { NvmeStatus } from './nvme-status';
import {
  NVME_SC_ACCESS_DENIED,
  NVME_SC_APPTAG_CHECK,
  NVME_SC_BAD_ATTRIBUTES,
  NVME_SC_CAP_EXCEEDED,
  NVME_SC_CMD_INTERRUPTED,
  NVME_SC_COMPARE_FAILED,
  NVME_SC_GUARD_CHECK,
  NVME_SC_HOST_PATH_ERROR,
  NVME_SC_INVALID_FIELD,
  NVME_SC_INVALID_NS,
  NVME_SC_INVALID_OPCODE,
  NVME_SC_INVALID_PI,
  NVME_SC_LBA_RANGE,
  NVME_SC_MASK,
  NVME_SC_NS_NOT_READY,
  NVME_SC_ONCS_NOT_SUPPORTED,
  NVME_SC_READ_ERROR,
  NVME_SC_READ_ONLY,
  NVME_SC_REFTAG_CHECK,
  NVME_SC_RESERVATION_CONFLICT,
  NVME_SC_SUCCESS,
  NVME_SC_UNWRITTEN_BLOCK,
  NVME_SC_WRITE_FAULT,
} from './nvme-status';

const MEDIUM = [NVME_SC_WRITE_FAULT, NVME_SC_READ_ERROR, NVME_SC_UNWRITTEN_BLOCK, NVME_SC_ACCESS_DENIED, NVME_SC_READ_ONLY, NVME_SC_COMPARE_FAILED];
const PROTECTION = [NVME_SC_GUARD_CHECK, NVME_SC_APPTAG_CHECK, NVME_SC_REFTAG_CHECK, NVME_SC_INVALID_PI];

function table(entries: Array<[readonly NvmeStatus[], BlkStatus]>): ReadonlyMap<number, BlkStatus> {
  const m = new Map<number, BlkStatus>();
  for (const [codes, st] of entries) for (const c of codes) m.set(c, st);
  return m;
}

/** The mapping per policy (statuses not listed map to `BLK_STS_IOERR`). */
export const NVME_ERROR_STATUS: Readonly<Record<P2pdmaPolicy, ReadonlyMap<number, BlkStatus>>> = {
  v2: table([
    [[NVME_SC_SUCCESS], BLK_STS_OK],
    [[NVME_SC_CAP_EXCEEDED], BLK_STS_NOSPC],
    [[NVME_SC_ONCS_NOT_SUPPORTED], BLK_STS_NOTSUPP],
    [MEDIUM, BLK_STS_MEDIUM],
    [PROTECTION, BLK_STS_PROTECTION],
    [[NVME_SC_RESERVATION_CONFLICT], BLK_STS_NEXUS],
  ]),
  upstream: table([
    [[NVME_SC_SUCCESS], BLK_STS_OK],
    [[NVME_SC_CAP_EXCEEDED], BLK_STS_NOSPC],
    [[NVME_SC_LBA_RANGE, NVME_SC_CMD_INTERRUPTED, NVME_SC_NS_NOT_READY], BLK_STS_TARGET],
    [[NVME_SC_BAD_ATTRIBUTES, NVME_SC_ONCS_NOT_SUPPORTED, NVME_SC_INVALID_OPCODE, NVME_SC_INVALID_FIELD, NVME_SC_INVALID_NS], BLK_STS_NOTSUPP],
    [MEDIUM, BLK_STS_MEDIUM],
    [PROTECTION, BLK_STS_PROTECTION],
    [[NVME_SC_RESERVATION_CONFLICT], BLK_STS_NEXUS],
    [[NVME_SC_HOST_PATH_ERROR], BLK_STS_TRANSPORT],
  ]),
};

/**
 * The block layer status a request ends with.
 * @param status the NVMe status (More/DNR bits ignored).
 * @param policy which kernel's table.
 * @returns the `BlkStatus`.
 * @kernel nvme_error_status
 */
export function nvmeErrorStatus(status: NvmeStatus, policy: P2pdmaPolicy): BlkStatus {
  return NVME_ERROR_STATUS[policy].get(status & NVME_SC_MASK) ?? BLK_STS_IOERR;
}
