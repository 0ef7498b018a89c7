/**
 * blk_status_t (include/linux/blk_types.h, Linux 4.16) and the kernel's blk_errors[] table
 * (block/blk-core.c): values, and the only two conversions.
 */
import { Errno } from '@p2pdma/kernel';
import { describe, expect, test } from 'vitest';
import type { BlkStatus } from '../src/index';
import {
  BLK_STATUS_TABLE,
  BLK_STS_AGAIN,
  BLK_STS_DEV_RESOURCE,
  BLK_STS_DM_REQUEUE,
  BLK_STS_IOERR,
  BLK_STS_MEDIUM,
  BLK_STS_NEXUS,
  BLK_STS_NOSPC,
  BLK_STS_NOTSUPP,
  BLK_STS_OK,
  BLK_STS_PROTECTION,
  BLK_STS_RESOURCE,
  BLK_STS_TARGET,
  BLK_STS_TIMEOUT,
  BLK_STS_TRANSPORT,
  blkStatusName,
  blkStatusToErrno,
  errnoToBlkStatus,
  isBlkStatus,
} from '../src/index';

describe('blk_status_t values (4.16 blk_types.h)', () => {
  test('every BLK_STS_* has its 4.16 value', () => {
    expect([
      BLK_STS_OK,
      BLK_STS_NOTSUPP,
      BLK_STS_TIMEOUT,
      BLK_STS_NOSPC,
      BLK_STS_TRANSPORT,
      BLK_STS_TARGET,
      BLK_STS_NEXUS,
      BLK_STS_MEDIUM,
      BLK_STS_PROTECTION,
      BLK_STS_RESOURCE,
      BLK_STS_IOERR,
      BLK_STS_DM_REQUEUE,
      BLK_STS_AGAIN,
      BLK_STS_DEV_RESOURCE,
    ]).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13]);
    BLK_STATUS_TABLE.forEach((row, i) => {
      expect(row.status).toBe(i);
    });
    expect(blkStatusName(BLK_STS_DEV_RESOURCE)).toBe('BLK_STS_DEV_RESOURCE');
    expect(isBlkStatus(13)).toBe(true);
    expect(isBlkStatus(14)).toBe(false);
    expect(isBlkStatus(-5)).toBe(false);
  });
});

describe('blk_status_to_errno / errno_to_blk_status (blk_errors[])', () => {
  const expected: [BlkStatus, number][] = [
    [BLK_STS_OK, 0],
    [BLK_STS_NOTSUPP, -Errno.EOPNOTSUPP],
    [BLK_STS_TIMEOUT, -Errno.ETIMEDOUT],
    [BLK_STS_NOSPC, -Errno.ENOSPC],
    [BLK_STS_TRANSPORT, -Errno.ENOLINK],
    [BLK_STS_TARGET, -Errno.EREMOTEIO],
    [BLK_STS_NEXUS, -Errno.EBADE],
    [BLK_STS_MEDIUM, -Errno.ENODATA],
    [BLK_STS_PROTECTION, -Errno.EILSEQ],
    [BLK_STS_RESOURCE, -Errno.ENOMEM],
    [BLK_STS_IOERR, -Errno.EIO],
    [BLK_STS_DM_REQUEUE, -Errno.EREMCHG],
    [BLK_STS_AGAIN, -Errno.EAGAIN],
    [BLK_STS_DEV_RESOURCE, -Errno.EBUSY],
  ];

  test.each(expected)('status %i <-> errno %i', (status, errno) => {
    expect(blkStatusToErrno(status)).toBe(errno);
    expect(errnoToBlkStatus(errno)).toBe(status);
  });

  test('the P2P refusal status reads as -EOPNOTSUPP (95)', () => {
    expect(blkStatusToErrno(BLK_STS_NOTSUPP)).toBe(-95);
  });

  test('an errno outside the table becomes BLK_STS_IOERR; positive errnos match nothing', () => {
    expect(errnoToBlkStatus(-Errno.EINVAL)).toBe(BLK_STS_IOERR);
    expect(errnoToBlkStatus(-Errno.ENODEV)).toBe(BLK_STS_IOERR);
    expect(errnoToBlkStatus(Errno.EIO)).toBe(BLK_STS_IOERR);
    expect(errnoToBlkStatus(12345)).toBe(BLK_STS_IOERR);
  });

  test('a status outside the table converts to -EIO (the WARN_ON_ONCE path)', () => {
    expect(blkStatusToErrno(99 as BlkStatus)).toBe(-Errno.EIO);
    expect(blkStatusName(99 as BlkStatus)).toBe('BLK_STS_99');
  });
});
