/**
 * enum req_opf / enum req_flag_bits of Linux 4.16 with patch 05/10 ("block: Introduce PCI P2P
 * flags for request and request queue") applied: __REQ_PCI_P2PDMA after __REQ_NOWAIT inside
 * #ifdef CONFIG_PCI_P2PDMA, REQ_PCI_P2PDMA 0 otherwise, REQ_NOMERGE_FLAGS gaining it.
 */
import { describe, expect, test } from 'vitest';
import {
  __REQ_BACKGROUND,
  __REQ_FAILFAST_DEV,
  __REQ_FAILFAST_DRIVER,
  __REQ_FAILFAST_TRANSPORT,
  __REQ_FUA,
  __REQ_IDLE,
  __REQ_INTEGRITY,
  __REQ_META,
  __REQ_NOMERGE,
  __REQ_NOWAIT,
  __REQ_PCI_P2PDMA_IF_CONFIGURED,
  __REQ_PREFLUSH,
  __REQ_PRIO,
  __REQ_RAHEAD,
  __REQ_SYNC,
  opIsFlush,
  opIsSync,
  opIsWrite,
  REQ_BACKGROUND,
  REQ_FAILFAST_DEV,
  REQ_FAILFAST_DRIVER,
  REQ_FAILFAST_MASK,
  REQ_FAILFAST_TRANSPORT,
  REQ_FLAG_TABLES,
  REQ_FUA,
  REQ_IDLE,
  REQ_INTEGRITY,
  REQ_META,
  REQ_NOMERGE,
  REQ_NOWAIT,
  REQ_OP_BITS,
  REQ_OP_DISCARD,
  REQ_OP_FLUSH,
  REQ_OP_MASK,
  REQ_OP_READ,
  REQ_OP_WRITE,
  REQ_OP_WRITE_ZEROES,
  REQ_PCI_P2PDMA_IF_CONFIGURED,
  REQ_PREFLUSH,
  REQ_PRIO,
  REQ_RAHEAD,
  REQ_SYNC,
  reqFlags,
} from '../src/index';
import { newKernel } from './helpers';

describe('request operations (4.16 enum req_opf)', () => {
  test('operation numbers and the 8-bit op field', () => {
    expect([REQ_OP_READ, REQ_OP_WRITE, REQ_OP_FLUSH, REQ_OP_DISCARD, REQ_OP_WRITE_ZEROES]).toEqual([0, 1, 2, 3, 9]);
    expect(REQ_OP_BITS).toBe(8);
    expect(REQ_OP_MASK).toBe(0xff);
    expect(opIsWrite(REQ_OP_WRITE)).toBe(true);
    expect(opIsWrite(REQ_OP_WRITE_ZEROES)).toBe(true);
    expect(opIsWrite(REQ_OP_READ)).toBe(false);
    expect(opIsWrite(REQ_OP_DISCARD)).toBe(true);
    expect(opIsFlush(REQ_OP_WRITE | REQ_FUA)).toBe(true);
    expect(opIsFlush(REQ_OP_WRITE | REQ_PREFLUSH)).toBe(true);
    expect(opIsFlush(REQ_OP_WRITE | REQ_SYNC)).toBe(false);
    expect(opIsSync(REQ_OP_READ)).toBe(true);
    expect(opIsSync(REQ_OP_WRITE)).toBe(false);
    expect(opIsSync(REQ_OP_WRITE | REQ_SYNC)).toBe(true);
  });
});

describe('request flag bits (4.16 enum req_flag_bits)', () => {
  test('bits 8..21 are the same in every build', () => {
    const bits = [
      __REQ_FAILFAST_DEV,
      __REQ_FAILFAST_TRANSPORT,
      __REQ_FAILFAST_DRIVER,
      __REQ_SYNC,
      __REQ_META,
      __REQ_PRIO,
      __REQ_NOMERGE,
      __REQ_IDLE,
      __REQ_INTEGRITY,
      __REQ_FUA,
      __REQ_PREFLUSH,
      __REQ_RAHEAD,
      __REQ_BACKGROUND,
      __REQ_NOWAIT,
    ];
    expect(bits).toEqual([8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21]);
    const flags = [
      REQ_FAILFAST_DEV,
      REQ_FAILFAST_TRANSPORT,
      REQ_FAILFAST_DRIVER,
      REQ_SYNC,
      REQ_META,
      REQ_PRIO,
      REQ_NOMERGE,
      REQ_IDLE,
      REQ_INTEGRITY,
      REQ_FUA,
      REQ_PREFLUSH,
      REQ_RAHEAD,
      REQ_BACKGROUND,
      REQ_NOWAIT,
    ];
    expect(flags).toEqual(bits.map((b) => 2 ** b));
    expect(REQ_FAILFAST_MASK).toBe(REQ_FAILFAST_DEV | REQ_FAILFAST_TRANSPORT | REQ_FAILFAST_DRIVER);
  });

  test('patch 05 with CONFIG_PCI_P2PDMA=y: __REQ_PCI_P2PDMA is 22, NOUNMAP and DRV move up', () => {
    const t = reqFlags(newKernel({ CONFIG_PCI_P2PDMA: true }));
    expect(t).toBe(REQ_FLAG_TABLES.p2pdma);
    expect(t.__REQ_PCI_P2PDMA).toBe(__REQ_NOWAIT + 1);
    expect(t.__REQ_PCI_P2PDMA).toBe(__REQ_PCI_P2PDMA_IF_CONFIGURED);
    expect(t.REQ_PCI_P2PDMA).toBe(REQ_PCI_P2PDMA_IF_CONFIGURED);
    expect(t.REQ_PCI_P2PDMA).toBe(0x40_0000);
    expect([t.__REQ_NOUNMAP, t.__REQ_DRV, t.__REQ_NR_BITS]).toEqual([23, 24, 25]);
    expect(t.REQ_NOUNMAP).toBe(2 ** 23);
    expect(t.REQ_DRV).toBe(2 ** 24);
    expect(t.REQ_NOMERGE_FLAGS).toBe(REQ_NOMERGE | REQ_PREFLUSH | REQ_FUA | t.REQ_PCI_P2PDMA);
  });

  test('patch 05 with CONFIG_PCI_P2PDMA off: REQ_PCI_P2PDMA is 0 and the enum is 4.16 unchanged', () => {
    const t = reqFlags(newKernel({ CONFIG_PCI_P2PDMA: false }));
    expect(t).toBe(REQ_FLAG_TABLES.none);
    expect(t.REQ_PCI_P2PDMA).toBe(0);
    expect(t.__REQ_PCI_P2PDMA).toBe(-1);
    expect([t.__REQ_NOUNMAP, t.__REQ_DRV, t.__REQ_NR_BITS]).toEqual([22, 23, 24]);
    expect(t.REQ_NOMERGE_FLAGS).toBe(REQ_NOMERGE | REQ_PREFLUSH | REQ_FUA);
  });

  test('reqFlags also takes a bare Kconfig, and the tables are frozen', () => {
    expect(reqFlags({ CONFIG_PCI_P2PDMA: false }).REQ_PCI_P2PDMA).toBe(0);
    expect(Object.isFrozen(REQ_FLAG_TABLES.p2pdma)).toBe(true);
    expect(() => {
      (REQ_FLAG_TABLES.p2pdma as { REQ_PCI_P2PDMA: number }).REQ_PCI_P2PDMA = 1;
    }).toThrow(TypeError);
  });
});
