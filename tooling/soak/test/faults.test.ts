/**
 * The soak run's fault kinds (issue 9), one test each: the fault fires, the initiator sees the
 * kernel's result (NVMe status of the command, or the refused connect), acknowledged data is
 * intact, no error line is printed, and nothing leaks after teardown (pages, DMA mappings,
 * p2pmem, queues, controller IDs, host buffers).
 * @kernel lib/fault-inject.c; nvmet-rdma / nvmet core error paths
 */
import type { KernelRng } from '@p2pdma/kernel';
import { KERN_WARNING } from '@p2pdma/kernel';
import type { NvmetPlacement } from '@p2pdma/nvmet';
import { buildNvmetTestbed, nvmeRwCommand, NVME_RDMA_CM_NO_RSC, NVME_SC_DNR, NVME_SC_INTERNAL, NVMET_TESTBED_FAULT_KINDS, NvmfController } from '@p2pdma/nvmet';
import { describe, expect, it } from 'vitest';
import { SOAK_FAULT_KINDS as ALL_KINDS } from '../src/faults';
import { checkLeaks, leakBaseline } from '../src/leaks';

/** The first call after arming fails, once. */
const FIRST_CALL = { int: () => 1, next: () => 0 } as unknown as KernelRng;
const IO = 1 << 20;

type Expect = { placement: NvmetPlacement; connect?: string; writeStatus?: number; fallback?: boolean };
const EXPECT_KINDS = {
  'gen-pool-alloc': { placement: 'p2pmem', writeStatus: 0, fallback: true },
  'page-alloc': { placement: 'system', connect: `rdma_connect to 192.168.0.1:4420 rejected (NVMe/RDMA status ${NVME_RDMA_CM_NO_RSC})` },
  'sg-alloc': { placement: 'system', writeStatus: NVME_SC_INTERNAL },
  'dma-map': { placement: 'system', writeStatus: NVME_SC_INTERNAL },
  'rdma-rw-alloc': { placement: 'system', writeStatus: NVME_SC_INTERNAL },
  'make-request': { placement: 'system', writeStatus: NVME_SC_INTERNAL | NVME_SC_DNR },
} as const satisfies Readonly<Record<string, Expect>>;
const EXPECT: Readonly<Record<string, Expect>> = EXPECT_KINDS;
/** The `kernel.faults` rows (nvmet's testbed kinds have their own end-to-end tests in nvmet, and a leak test below). */
const SOAK_FAULT_KINDS = ALL_KINDS.filter((f) => Object.hasOwn(EXPECT, f.kind));

describe('fault kinds of the soak run: user-visible result and no leaks', () => {
  it('every kernel.faults kind has an expectation here', () => {
    expect(ALL_KINDS.filter((f) => !NVMET_TESTBED_FAULT_KINDS.some((k) => k.kind === f.kind)).map((f) => f.kind).sort()).toEqual(Object.keys(EXPECT).sort());
    expect(ALL_KINDS.length).toBe(Object.keys(EXPECT).length + NVMET_TESTBED_FAULT_KINDS.length);
  });

  for (const f of SOAK_FAULT_KINDS) {
    for (const policy of ['upstream', 'v2'] as const) {
      it(`${policy} ${f.kind}: ${f.description}`, () => {
        const want = EXPECT[f.kind]!;
        const bed = buildNvmetTestbed({ policy, placement: want.placement, namespaceBytes: 4 * IO, hostMemoryBytes: 4 * IO, connect: false });
        if ('error' in bed) throw new Error(bed.error);
        const base = leakBaseline(bed);
        const errLines = () => bed.kernel.log.lines(KERN_WARNING).map((l) => l.text);
        const ctrls: NvmfController[] = [];
        const connect = () => {
          const c = bed.initiator.connect({ traddr: bed.traddr, subsysnqn: bed.subsysnqn });
          if (c instanceof NvmfController) ctrls.push(c);
          return c;
        };
        const hits0 = f.hits(bed);
        if (want.connect !== undefined) {
          f.inject(bed, FIRST_CALL);
          const c = connect();
          expect(c instanceof NvmfController ? 'connected' : c.error).toBe(want.connect);
          f.clear(bed);
        }
        const c = connect();
        if (!(c instanceof NvmfController)) throw new Error(c.error);
        const data = new Uint8Array(IO).fill(0x5a);
        expect(c.write(1, 0, data).cqe!.status).toBe(0);
        if (want.writeStatus !== undefined) {
          f.inject(bed, FIRST_CALL);
          const r = c.write(1, IO / 512, new Uint8Array(IO).fill(0xa5));
          expect(r.lost).toBe(false);
          expect(r.cqe!.status).toBe(want.writeStatus);
          f.clear(bed);
        }
        expect((f.hits(bed) ?? 0) - (hits0 ?? 0)).toBe(1);
        if (want.fallback === true) expect(bed.target.subsystems.get(bed.subsysnqn)!.ctrls[0]!.stats.p2pAllocFallbacks).toBe(1);
        // The acknowledged write is intact; no error line was printed (policy v2's known unmap warning aside).
        expect(Buffer.from(c.read(1, 0, IO / 512).data!).equals(Buffer.from(data))).toBe(true);
        expect(errLines().filter((l) => !l.startsWith('DMA-API: '))).toEqual([]);
        for (const x of ctrls) x.disconnect();
        bed.kernel.clock.advance(1e9);
        expect(checkLeaks(bed, base, ctrls)).toEqual([]);
      });
    }
  }
});

describe("nvmet's testbed fault kinds as soak rows: armed on a connected testbed, nothing leaks after teardown", () => {
  for (const f of ALL_KINDS.filter((k) => NVMET_TESTBED_FAULT_KINDS.some((x) => x.kind === k.kind))) {
    it(`${f.kind} (${f.recovers === false ? 'device gone' : f.recovers === 'reconnect' ? 'reconnect' : 'recovers'})`, () => {
      const bed = buildNvmetTestbed({ policy: 'upstream', placement: 'p2pmem', namespaceBytes: 4 * IO, hostMemoryBytes: 4 * IO, connect: false, hostTimeoutNs: 120e9 });
      if ('error' in bed) throw new Error(bed.error);
      const base = leakBaseline(bed);
      const c = bed.initiator.connect({ traddr: bed.traddr, subsysnqn: bed.subsysnqn });
      if (!(c instanceof NvmfController)) throw new Error(c.error);
      expect(f.inject(bed, FIRST_CALL)).toBe(true);
      expect(f.hits(bed)).toBeNull();
      const ios = [0, 1, 2, 3].map((i) => c.submit(1, nvmeRwCommand({ write: true, nsid: 1, slba: i * 8, nlb: 8 }), { write: new Uint8Array(4096).fill(i) }));
      const results = c.wait(ios);
      // Every command completes exactly once: success, an error status, or lost with its connection.
      for (const r of results) expect(r.cqe !== null || r.lost).toBe(true);
      f.clear(bed);
      c.disconnect();
      bed.kernel.clock.advance(200e9);
      expect(checkLeaks(bed, base, [c])).toEqual([]);
    });
  }
});
