import { NVME_SC_ABORT_QUEUE, NVME_SC_ABORT_REQ, NVME_SC_ACCESS_DENIED, NVME_SC_CAP_EXCEEDED, NVME_SC_CMD_SEQ_ERROR, NVME_SC_DATA_XFER_ERROR, NVME_SC_DNR, NVME_SC_INTERNAL, NVME_SC_INVALID_FIELD, NVME_SC_INVALID_NS, NVME_SC_INVALID_OPCODE, NVME_SC_LBA_RANGE, NVME_SC_MASK, NVME_SC_MORE, NVME_SC_ONCS_NOT_SUPPORTED, NVME_SC_READ_ERROR, NVME_SC_SUCCESS, NVME_SC_WRITE_FAULT } from '@p2pdma/nvme-pci';
/**
 * NVMe completion status values as the target sets them: the NVMe status type, never an errno.
 *
 * The encoding is the kernel's (`nvmet_req_complete(req, status)`): Status Code in bits 7:0,
 * Status Code Type in bits 10:8, More in bit 13, Do Not Retry in bit 14. In a completion queue
 * entry the value sits one bit up (`status << 1`); fabrics completions carry no phase tag.
 *
 * Some Status Code values mean different things in different command sets (0x180 is "Connect
 * Incompatible Format" for a Fabrics Connect and "Conflicting Attributes" for an NVM command);
 * the names here are the ones the target uses.
 *
 * @kernel include/linux/nvme.h (NVME_SC_*)
 */

/** An NVMe status in the kernel's encoding (u16), not an errno. */
export type NvmeStatus = number;

/** Invalid SGL Last Segment Descriptor. @kernel NVME_SC_SGL_INVALID_LAST */
export const NVME_SC_SGL_INVALID_LAST = 0xd;
/** Invalid Number of SGL Descriptors. @kernel NVME_SC_SGL_INVALID_COUNT */
export const NVME_SC_SGL_INVALID_COUNT = 0xe;
/** Data SGL Length Invalid. @kernel NVME_SC_SGL_INVALID_DATA */
export const NVME_SC_SGL_INVALID_DATA = 0xf;
/** SGL Descriptor Type Invalid. @kernel NVME_SC_SGL_INVALID_TYPE */
export const NVME_SC_SGL_INVALID_TYPE = 0x11;
/** SGL Offset Invalid. @kernel NVME_SC_SGL_INVALID_OFFSET */
export const NVME_SC_SGL_INVALID_OFFSET = 0x16;
/** Asynchronous Event Request Limit Exceeded. @kernel NVME_SC_ASYNC_LIMIT */
export const NVME_SC_ASYNC_LIMIT = 0x105;
/** Connect: Incompatible Format. @kernel NVME_SC_CONNECT_FORMAT */
export const NVME_SC_CONNECT_FORMAT = 0x180;
/** Connect: Controller Busy. @kernel NVME_SC_CONNECT_CTRL_BUSY */
export const NVME_SC_CONNECT_CTRL_BUSY = 0x181;
/** Connect: Invalid Parameters. @kernel NVME_SC_CONNECT_INVALID_PARAM */
export const NVME_SC_CONNECT_INVALID_PARAM = 0x182;
/** Connect: Restart Discovery. @kernel NVME_SC_CONNECT_RESTART_DISC */
export const NVME_SC_CONNECT_RESTART_DISC = 0x183;
/** Connect: Invalid Host. @kernel NVME_SC_CONNECT_INVALID_HOST */
export const NVME_SC_CONNECT_INVALID_HOST = 0x184;


/** Names for messages and reports, by `status & NVME_SC_MASK` (the target's meanings). */
export const NVME_STATUS_NAMES: Readonly<Record<number, string>> = {
  [NVME_SC_SUCCESS]: 'SUCCESS',
  [NVME_SC_INVALID_OPCODE]: 'INVALID_OPCODE',
  [NVME_SC_INVALID_FIELD]: 'INVALID_FIELD',
  [NVME_SC_DATA_XFER_ERROR]: 'DATA_XFER_ERROR',
  [NVME_SC_INTERNAL]: 'INTERNAL',
  [NVME_SC_ABORT_REQ]: 'ABORT_REQ',
  [NVME_SC_ABORT_QUEUE]: 'ABORT_QUEUE',
  [NVME_SC_INVALID_NS]: 'INVALID_NS',
  [NVME_SC_CMD_SEQ_ERROR]: 'CMD_SEQ_ERROR',
  [NVME_SC_SGL_INVALID_LAST]: 'SGL_INVALID_LAST',
  [NVME_SC_SGL_INVALID_COUNT]: 'SGL_INVALID_COUNT',
  [NVME_SC_SGL_INVALID_DATA]: 'SGL_INVALID_DATA',
  [NVME_SC_SGL_INVALID_TYPE]: 'SGL_INVALID_TYPE',
  [NVME_SC_SGL_INVALID_OFFSET]: 'SGL_INVALID_OFFSET',
  [NVME_SC_LBA_RANGE]: 'LBA_RANGE',
  [NVME_SC_CAP_EXCEEDED]: 'CAP_EXCEEDED',
  [NVME_SC_ASYNC_LIMIT]: 'ASYNC_LIMIT',
  [NVME_SC_CONNECT_FORMAT]: 'CONNECT_FORMAT',
  [NVME_SC_CONNECT_CTRL_BUSY]: 'CONNECT_CTRL_BUSY',
  [NVME_SC_CONNECT_INVALID_PARAM]: 'CONNECT_INVALID_PARAM',
  [NVME_SC_CONNECT_RESTART_DISC]: 'CONNECT_RESTART_DISC/ONCS_NOT_SUPPORTED',
  [NVME_SC_CONNECT_INVALID_HOST]: 'CONNECT_INVALID_HOST',
  [NVME_SC_WRITE_FAULT]: 'WRITE_FAULT',
  [NVME_SC_READ_ERROR]: 'READ_ERROR',
  [NVME_SC_ACCESS_DENIED]: 'ACCESS_DENIED',
};

/**
 * Renders a status for messages: `INVALID_NS|DNR`, `0x1234` for codes the table lacks.
 * @param status a status.
 * @returns the text.
 */
export function nvmeStatusName(status: NvmeStatus): string {
  const base = NVME_STATUS_NAMES[status & NVME_SC_MASK] ?? `0x${(status & NVME_SC_MASK).toString(16)}`;
  return `${base}${status & NVME_SC_MORE ? '|MORE' : ''}${status & NVME_SC_DNR ? '|DNR' : ''}`;
}


/** NVMe definitions shared with the host driver (include/linux/nvme.h), re-exported. */
export { NVME_SC_ABORT_QUEUE, NVME_SC_ABORT_REQ, NVME_SC_ACCESS_DENIED, NVME_SC_CAP_EXCEEDED, NVME_SC_CMD_SEQ_ERROR, NVME_SC_DATA_XFER_ERROR, NVME_SC_DNR, NVME_SC_INTERNAL, NVME_SC_INVALID_FIELD, NVME_SC_INVALID_NS, NVME_SC_INVALID_OPCODE, NVME_SC_LBA_RANGE, NVME_SC_MASK, NVME_SC_MORE, NVME_SC_ONCS_NOT_SUPPORTED, NVME_SC_READ_ERROR, NVME_SC_SUCCESS, NVME_SC_WRITE_FAULT };