/**
 * The soak run's bookkeeping: the write ledger (acknowledged writes must read back, failed ones
 * become unknown and are counted) and the leak check (counts back to the baseline after
 * teardown). Both must be able to fail, so each is shown catching the fault it exists for.
 */
import { buildNvmetTestbed, NvmfController } from '@p2pdma/nvmet';
import { pciAllocP2pmem } from '@p2pdma/p2pdma';
import { describe, expect, it } from 'vitest';
import { patternFor, WriteLedger } from '../src/io-ledger';
import { checkLeaks, leakBaseline } from '../src/leaks';

describe('WriteLedger', () => {
  it('an acknowledged write must read back; a difference is counted as a lost acknowledged block', () => {
    const l = new WriteLedger(64, 512, 8);
    const d = patternFor(1, 8, 2, 512);
    l.wrote(8, d, 'ok');
    expect(l.knownSlots()).toEqual([1]);
    expect(l.read(8, 2, 'ok', d)).toBe(0);
    const bad = d.slice();
    bad[600] = (bad[600]! + 1) & 0xff;
    expect(l.read(8, 2, 'ok', bad, 'r')).toBe(1);
    expect(l.mismatches).toEqual(['r: LBA 9 differs from its acknowledged write']);
    expect(l.counts).toEqual({ reads: 2, writes: 1, ok: 3, failed: 0, lost: 0, blocksVerified: 4, ackedBlocksLost: 1 });
  });

  it('a failed or lost write makes its blocks unknown (not checked), and is counted, never dropped', () => {
    const l = new WriteLedger(64, 512, 8);
    l.wrote(0, patternFor(1, 0, 8, 512), 'ok');
    l.wrote(0, patternFor(2, 0, 4, 512), 'failed');
    l.wrote(16, patternFor(3, 16, 1, 512), 'lost');
    const back = patternFor(1, 0, 8, 512);
    back.fill(0, 0, 4 * 512); // blocks 0-3: whatever the failed write left
    expect(l.read(0, 8, 'ok', back)).toBe(0);
    expect(l.counts).toMatchObject({ writes: 3, ok: 2, failed: 1, lost: 1, blocksVerified: 4, ackedBlocksLost: 0 });
  });

  it('slots are exclusive while an I/O uses them; sizes are validated', () => {
    const l = new WriteLedger(16, 512, 8);
    expect(l.acquire(1)).toBe(true);
    expect(l.acquire(1)).toBe(false);
    l.release(1);
    expect(l.acquire(1)).toBe(true);
    expect(() => new WriteLedger(10, 512, 8)).toThrow('WriteLedger: blocks 10 is not a multiple of slotBlocks 8');
    expect(() => new WriteLedger(0, 512, 8)).toThrow('WriteLedger: blocks 0 must be a positive integer');
  });

  it('patternFor stamps each block with the write and its LBA', () => {
    const a = patternFor(5, 100, 2, 512);
    const dv = new DataView(a.buffer);
    expect([dv.getUint32(0, true), dv.getUint32(4, true), dv.getUint32(512, true), dv.getUint32(516, true)]).toEqual([5, 100, 5, 101]);
    expect(Buffer.from(patternFor(5, 100, 1, 512)).equals(Buffer.from(patternFor(6, 100, 1, 512)))).toBe(false);
  });
});

describe('checkLeaks', () => {
  it('reports a controller left connected (queues, controller, ID) and p2pmem not freed; nothing once they are gone', () => {
    const bed = buildNvmetTestbed({ policy: 'upstream', placement: 'p2pmem', namespaceBytes: 4 << 20, hostMemoryBytes: 4 << 20, connect: false });
    if ('error' in bed) throw new Error(bed.error);
    const base = leakBaseline(bed);
    const c = bed.initiator.connect({ traddr: bed.traddr, subsysnqn: bed.subsysnqn });
    if (!(c instanceof NvmfController)) throw new Error(c.error);
    const card = bed.provider!;
    const p = pciAllocP2pmem(card, 4096);
    expect(p).not.toBeNull();
    const leaks = checkLeaks(bed, base, [c]);
    expect(leaks).toContain(`p2pmem ${card.name}: available ${Number(base.p2pmemAvailable.get(card.name)) - 4096}, expected ${base.p2pmemAvailable.get(card.name)}`);
    expect(leaks).toContain('nvmet-rdma: 2 queue(s) still allocated');
    expect(leaks).toContain(`subsystem ${bed.subsysnqn}: 1 controller(s) still allocated`);
    expect(leaks).toContain('nvmet: 1 controller ID(s) still allocated');
    expect(leaks).toContain('nvmetTestbedLeaks nvmetCtrls: 1');
    expect(leaks.some((l) => l.startsWith('System RAM: '))).toBe(true);
    c.disconnect();
    bed.kernel.clock.advance(1e9);
    expect(checkLeaks(bed, base, [c])).toEqual([
      `p2pmem ${card.name}: available ${Number(base.p2pmemAvailable.get(card.name)) - 4096}, expected ${base.p2pmemAvailable.get(card.name)}`,
      'nvmetTestbedLeaks p2pmemBytes: 4096',
    ]);
  });
});

describe('WriteLedger ranges (large I/Os)', () => {
  it('takes consecutive slots all or none, and refuses a range outside the ledger', () => {
    const l = new WriteLedger(64, 512, 8);
    expect(l.acquire(3)).toBe(true);
    expect(l.acquireRange(0, 4)).toBe(false);
    expect(l.acquire(0)).toBe(true);
    l.releaseRange(0, 1);
    l.release(3);
    expect(l.acquireRange(0, 8)).toBe(true);
    expect(l.acquire(7)).toBe(false);
    expect(() => l.acquireRange(5, 4)).toThrow('WriteLedger: slots 5+4 are outside 0..7');
  });
});
