/**
 * NVMe over Fabrics definitions: the Fabrics command types, the Connect command and its
 * 1024-byte data, Property Get/Set, the controller properties they reach (CAP, VS, CC, CSTS),
 * transport and address family codes, and the NQN limits.
 *
 * @kernel include/linux/nvme.h (struct nvmf_common_command, struct nvmf_connect_command,
 *   struct nvmf_connect_data, struct nvmf_property_set_command, struct nvmf_property_get_command,
 *   enum nvmf_fabrics_opcode, NVMF_TRTYPE_*, NVMF_ADDR_FAMILY_*, NVMF_TREQ_*, NVME_REG_*,
 *   NVME_CC_*, NVME_CSTS_*), drivers/nvme/target/nvmet.h (IPO_IATTR_CONNECT_*)
 */
import { KernelBug } from '@p2pdma/kernel';
import type { NvmeCommand } from './nvme-command';
import { nvme_fabrics_command, nvmeHostCommand } from './nvme-command';
import { NVME_CC_AMS_SHIFT, NVME_CC_CSS_SHIFT, NVME_CC_ENABLE, NVME_CC_IOCQES_SHIFT, NVME_CC_IOSQES_SHIFT, NVME_CC_MPS_SHIFT, NVME_CC_SHN_NORMAL, NVME_CC_SHN_SHIFT, NVME_CSTS_CFS, NVME_CSTS_RDY, NVME_CSTS_SHST_CMPLT, NVME_REG_CAP, NVME_REG_CC, NVME_REG_CSTS, NVME_REG_VS } from '@p2pdma/nvme-pci';

/** Fabrics type: Property Set. @kernel nvme_fabrics_type_property_set */
export const nvme_fabrics_type_property_set = 0x00;
/** Fabrics type: Connect. @kernel nvme_fabrics_type_connect */
export const nvme_fabrics_type_connect = 0x01;
/** Fabrics type: Property Get. @kernel nvme_fabrics_type_property_get */
export const nvme_fabrics_type_property_get = 0x04;

/** Longest NQN. @kernel NVMF_NQN_SIZE */
export const NVMF_NQN_SIZE = 223;
/** Bytes of an NQN field in the Connect data. @kernel NVMF_NQN_FIELD_LEN */
export const NVMF_NQN_FIELD_LEN = 256;
/** Longest transport address. @kernel NVMF_TRADDR_SIZE */
export const NVMF_TRADDR_SIZE = 256;
/** Longest transport service ID. @kernel NVMF_TRSVCID_SIZE */
export const NVMF_TRSVCID_SIZE = 32;
/** The well-known discovery subsystem NQN. @kernel NVME_DISC_SUBSYS_NAME */
export const NVME_DISC_SUBSYS_NAME = 'nqn.2014-08.org.nvmexpress.discovery';
/** The Connect data's controller ID meaning "allocate one" (the admin queue). */
export const NVME_CNTLID_DYNAMIC = 0xffff;
/** Lowest controller ID the target hands out. @kernel NVME_CNTLID_MIN */
export const NVME_CNTLID_MIN = 1;
/** Highest controller ID the target hands out. @kernel NVME_CNTLID_MAX */
export const NVME_CNTLID_MAX = 0xffef;

/** Transport type: RDMA. @kernel NVMF_TRTYPE_RDMA */
export const NVMF_TRTYPE_RDMA = 1;
/** Transport type: Fibre Channel. @kernel NVMF_TRTYPE_FC */
export const NVMF_TRTYPE_FC = 2;
/** Transport type: TCP. @kernel NVMF_TRTYPE_TCP */
export const NVMF_TRTYPE_TCP = 3;
/** Transport type: the target's loop device. @kernel NVMF_TRTYPE_LOOP */
export const NVMF_TRTYPE_LOOP = 254;

/** Address family: PCIe. @kernel NVMF_ADDR_FAMILY_PCI */
export const NVMF_ADDR_FAMILY_PCI = 0;
/** Address family: IPv4. @kernel NVMF_ADDR_FAMILY_IP4 */
export const NVMF_ADDR_FAMILY_IP4 = 1;
/** Address family: IPv6. @kernel NVMF_ADDR_FAMILY_IP6 */
export const NVMF_ADDR_FAMILY_IP6 = 2;
/** Address family: InfiniBand. @kernel NVMF_ADDR_FAMILY_IB */
export const NVMF_ADDR_FAMILY_IB = 3;
/** Address family: Fibre Channel. @kernel NVMF_ADDR_FAMILY_FC */
export const NVMF_ADDR_FAMILY_FC = 4;
/** Address family: loop. @kernel NVMF_ADDR_FAMILY_LOOP */
export const NVMF_ADDR_FAMILY_LOOP = 254;

/** Secure channel: not specified. @kernel NVMF_TREQ_NOT_SPECIFIED */
export const NVMF_TREQ_NOT_SPECIFIED = 0;
/** Secure channel: required. @kernel NVMF_TREQ_REQUIRED */
export const NVMF_TREQ_REQUIRED = 1;
/** Secure channel: not required. @kernel NVMF_TREQ_NOT_REQUIRED */
export const NVMF_TREQ_NOT_REQUIRED = 2;


/** log2 of the NVM command set's SQE size (64). @kernel NVME_NVM_IOSQES */
export const NVME_NVM_IOSQES = 6;
/** log2 of the NVM command set's CQE size (16). @kernel NVME_NVM_IOCQES */
export const NVME_NVM_IOCQES = 4;
/** The CC value a Linux host writes to enable a fabrics controller (EN, 64/16-byte entries). */
export const NVME_CC_ENABLE_NVM = NVME_CC_ENABLE | (NVME_NVM_IOSQES << NVME_CC_IOSQES_SHIFT) | (NVME_NVM_IOCQES << NVME_CC_IOCQES_SHIFT);


/** Byte offsets in a Connect command. @kernel struct nvmf_connect_command */
export const NVMF_CONNECT_CMD_OFFSETS = { recfmt: 40, qid: 42, sqsize: 44, cattr: 46, kato: 48 } as const;
/** Byte offsets in the Connect data. @kernel struct nvmf_connect_data */
export const NVMF_CONNECT_DATA_OFFSETS = { hostid: 0, cntlid: 16, subsysnqn: 256, hostnqn: 512 } as const;
/** Bytes of the Connect data. @kernel sizeof(struct nvmf_connect_data) */
export const NVMF_CONNECT_DATA_SIZE = 1024;
/** Byte offsets in a Property Get/Set command. @kernel struct nvmf_property_get_command */
export const NVMF_PROPERTY_OFFSETS = { attrib: 40, offset: 44, value: 48 } as const;

/**
 * The Connect result naming the Connect data field at fault (Invalid Parameters).
 * @param field `cntlid`, `subsysnqn` or `hostnqn`.
 * @returns `1 << 16 | offset`.
 * @kernel IPO_IATTR_CONNECT_DATA
 */
export function ipoIattrConnectData(field: 'cntlid' | 'subsysnqn' | 'hostnqn'): number {
  return (1 << 16) | NVMF_CONNECT_DATA_OFFSETS[field];
}

/**
 * The Connect result naming the Connect command field at fault.
 * @param field `qid` or `sqsize`.
 * @returns `0 << 16 | offset`.
 * @kernel IPO_IATTR_CONNECT_SQE
 */
export function ipoIattrConnectSqe(field: 'qid' | 'sqsize'): number {
  return NVMF_CONNECT_CMD_OFFSETS[field];
}

/** The fields of the Connect data. */
export interface NvmfConnectData {
  /** Host identifier (16 bytes). */
  readonly hostid: Uint8Array;
  /** Controller ID: `NVME_CNTLID_DYNAMIC` on the admin queue, the controller's on I/O queues. */
  readonly cntlid: number;
  /** Subsystem NQN. */
  readonly subsysnqn: string;
  /** Host NQN. */
  readonly hostnqn: string;
}

function readCString(bytes: Uint8Array, off: number, len: number): string {
  const field = bytes.subarray(off, off + len);
  const end = field.indexOf(0);
  return new TextDecoder().decode(end < 0 ? field : field.subarray(0, end));
}

/**
 * Builds the 1024-byte Connect data.
 * @param d the fields.
 * @returns the bytes.
 * @throws RangeError naming the field for an NQN longer than `NVMF_NQN_SIZE` bytes or a host ID
 *   that is not 16 bytes.
 */
export function nvmfEncodeConnectData(d: NvmfConnectData): Uint8Array {
  const out = new Uint8Array(NVMF_CONNECT_DATA_SIZE);
  if (d.hostid.length !== 16) throw new RangeError(`nvmf_connect_data: hostid must be 16 bytes, got ${d.hostid.length}`);
  out.set(d.hostid, NVMF_CONNECT_DATA_OFFSETS.hostid);
  new DataView(out.buffer).setUint16(NVMF_CONNECT_DATA_OFFSETS.cntlid, d.cntlid, true);
  for (const [field, value] of [
    ['subsysnqn', d.subsysnqn],
    ['hostnqn', d.hostnqn],
  ] as const) {
    const b = new TextEncoder().encode(value);
    if (b.length > NVMF_NQN_SIZE) throw new RangeError(`nvmf_connect_data: ${field} '${value}' is ${b.length} bytes, longer than ${NVMF_NQN_SIZE}`);
    out.set(b, NVMF_CONNECT_DATA_OFFSETS[field]);
  }
  return out;
}

/**
 * Parses the Connect data (NQN fields end at their first NUL or field end).
 * @param bytes the 1024 bytes.
 * @returns the fields.
 * @throws KernelBug for a buffer shorter than 1024 bytes.
 */
export function nvmfDecodeConnectData(bytes: Uint8Array): NvmfConnectData {
  if (bytes.length < NVMF_CONNECT_DATA_SIZE) throw new KernelBug(`nvmf_connect_data: ${bytes.length} bytes, expected ${NVMF_CONNECT_DATA_SIZE}`);
  return {
    hostid: bytes.slice(0, 16),
    cntlid: bytes[NVMF_CONNECT_DATA_OFFSETS.cntlid]! | (bytes[NVMF_CONNECT_DATA_OFFSETS.cntlid + 1]! << 8),
    subsysnqn: readCString(bytes, NVMF_CONNECT_DATA_OFFSETS.subsysnqn, NVMF_NQN_FIELD_LEN),
    hostnqn: readCString(bytes, NVMF_CONNECT_DATA_OFFSETS.hostnqn, NVMF_NQN_FIELD_LEN),
  };
}

/**
 * A Connect command (its data goes in the data pointer's buffer).
 * @param opts queue ID, submission queue size (0 based), keep-alive timeout in ms, record format.
 * @returns the command (command ID 0, data pointer empty).
 * @kernel nvmf_connect_admin_queue / nvmf_connect_io_queue (host side)
 */
export function nvmfConnectCommand(opts: { qid: number; sqsize: number; kato: number; recfmt?: number }): NvmeCommand {
  const c = nvmeHostCommand();
  c.opcode = nvme_fabrics_command;
  c.fctype = nvme_fabrics_type_connect;
  c.setU16(NVMF_CONNECT_CMD_OFFSETS.recfmt, opts.recfmt ?? 0);
  c.setU16(NVMF_CONNECT_CMD_OFFSETS.qid, opts.qid);
  c.setU16(NVMF_CONNECT_CMD_OFFSETS.sqsize, opts.sqsize);
  c.setU32(NVMF_CONNECT_CMD_OFFSETS.kato, opts.kato);
  return c;
}

/**
 * A Property Get command.
 * @param offset the property (`NVME_REG_*`).
 * @param size8 whether the property is 8 bytes (CAP).
 * @returns the command.
 * @kernel nvmf_reg_read32 / nvmf_reg_read64 (host side)
 */
export function nvmfPropertyGetCommand(offset: number, size8: boolean): NvmeCommand {
  const c = nvmeHostCommand();
  c.opcode = nvme_fabrics_command;
  c.fctype = nvme_fabrics_type_property_get;
  c.setU8(NVMF_PROPERTY_OFFSETS.attrib, size8 ? 1 : 0);
  c.setU32(NVMF_PROPERTY_OFFSETS.offset, offset);
  return c;
}

/**
 * A 4-byte Property Set command.
 * @param offset the property (`NVME_REG_CC`).
 * @param value the value.
 * @returns the command.
 * @kernel nvmf_reg_write32 (host side)
 */
export function nvmfPropertySetCommand(offset: number, value: number): NvmeCommand {
  const c = nvmeHostCommand();
  c.opcode = nvme_fabrics_command;
  c.fctype = nvme_fabrics_type_property_set;
  c.setU8(NVMF_PROPERTY_OFFSETS.attrib, 0);
  c.setU32(NVMF_PROPERTY_OFFSETS.offset, offset);
  c.setU64(NVMF_PROPERTY_OFFSETS.value, value >>> 0);
  return c;
}


/** NVMe definitions shared with the host driver (include/linux/nvme.h), re-exported. */
export { NVME_CC_AMS_SHIFT, NVME_CC_CSS_SHIFT, NVME_CC_ENABLE, NVME_CC_IOCQES_SHIFT, NVME_CC_IOSQES_SHIFT, NVME_CC_MPS_SHIFT, NVME_CC_SHN_NORMAL, NVME_CC_SHN_SHIFT, NVME_CSTS_CFS, NVME_CSTS_RDY, NVME_CSTS_SHST_CMPLT, NVME_REG_CAP, NVME_REG_CC, NVME_REG_CSTS, NVME_REG_VS };