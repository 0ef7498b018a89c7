/**
 * Issue 9 (soak finding): the host's request timeout and error recovery.
 *
 * After an RNIC error the target's QP is in the error state and sees only flushed completions
 * (IB_WC_WR_FLUSH_ERR, which nvmet_rdma ignores, as the kernel does), so it keeps the queue live
 * and never answers. In Linux the host recovers: blk-mq's request timer (one per queue,
 * blk_mq_timeout_work) fires, nvme_rdma_timeout logs `I/O tag %d (%04x) opcode %#x (%s) QID %d
 * timeout` and starts error recovery (nvme_rdma_error_recovery: `starting error recovery`, the
 * controller goes RESETTING), whose work disconnects every queue (rdma_disconnect: the target
 * frees its queues, nvmet_rdma_queue_disconnect) and cancels what is in flight
 * (nvme_cancel_request). The model reports those commands `lost` and leaves the controller
 * `failed` (no reconnect: the caller connects again).
 */
import { KernelRng, VirtualClock } from '@p2pdma/kernel';
import { nvmeControllerOf } from '@p2pdma/nvme-pci';
import { RemoteHost } from '@p2pdma/rdma-rw';
import { describe, expect, it } from 'vitest';
import type { NvmetLeakCounts, NvmetTestbed, NvmfCompletionResult, NvmfController, NvmfIo } from '../src/index';
import { buildNvmetTestbed, injectTestbedFault, nvmeRwCommand, nvmetTestbedLeaks, nvmetTestbedTeardown, NVMF_DEFAULT_TIMEOUT_NS, NvmfInitiator, RdmaCmNetwork } from '../src/index';
import { expectBytes, pattern } from './helpers';

const NO_LEAKS: NvmetLeakCounts = { pages: 0, dmaMappings: 0, p2pmemBytes: 0, p2pRemovalPending: 0, blkTags: 0, hostMemoryBytes: 0, nvmetQueues: 0, nvmetCtrls: 0 };
const PER_QUEUE = 12;
const BLOCKS = 8;

function bed(opts: { hostTimeoutNs?: number } = {}): NvmetTestbed {
  const t = buildNvmetTestbed({ nrIoQueues: 2, ...opts });
  if ('error' in t) throw new Error(t.error);
  return t;
}

function targetLines(t: NvmetTestbed, from: number): string[] {
  return t.kernel.log
    .lines()
    .slice(from)
    .map((l) => l.text)
    .filter((s) => !s.includes('keep-alive'));
}

/** Submits PER_QUEUE commands (write, read, write, ...) on each I/O queue; counts every completion. */
function submitBatch(c: NvmfController): { ios: NvmfIo[]; calls: number[] } {
  const ios: NvmfIo[] = [];
  const calls: number[] = [];
  for (const q of c.ioQueues) {
    for (let i = 0; i < PER_QUEUE; i++) {
      const k = calls.length;
      calls.push(0);
      const write = i % 2 === 0;
      const cmd = nvmeRwCommand({ write, nsid: 1, slba: (q.qid * PER_QUEUE + i) * BLOCKS, nlb: BLOCKS });
      ios.push(
        q.submit(cmd, write ? { write: pattern(BLOCKS * 512, k + 1) } : { readLen: BLOCKS * 512 }, () => {
          calls[k] = (calls[k] ?? 0) + 1;
        }),
      );
    }
  }
  return { ios, calls };
}

function outcome(r: NvmfCompletionResult): string {
  return r.lost ? 'L' : r.cqe!.status === 0 ? '0' : 'E';
}

describe('nvme_rdma_timeout + error recovery end the rnic-fault hang', () => {
  it("issue 9 reproduction: 'rnic-dma-error' (KernelRng(1)), 12 commands on each of 2 queues: every command completes once, the stuck ones lost after exactly the 30 s timeout; exact host lines; the target frees its queues; nothing leaks", () => {
    const t = bed();
    const c = t.ctrl!;
    const from = t.kernel.log.lines().length;
    const f = injectTestbedFault(t, 'rnic-dma-error', new KernelRng(1));
    if ('error' in f) throw new Error(f.error);
    const t0 = t.kernel.clock.now();
    const { ios, calls } = submitBatch(c);
    const rs = c.wait(ios);
    // Queue 1 is untouched; on queue 2 only the second command (CID 2) is answered before the
    // RNIC's failed DMA leaves the target's QP in the error state.
    expect(rs.map(outcome).join('')).toBe(`${'0'.repeat(12)}L0${'L'.repeat(10)}`);
    expect(calls).toEqual(new Array(24).fill(1));
    expect(t.kernel.clock.now() - t0).toBe(NVMF_DEFAULT_TIMEOUT_NS);
    const stuck = [1, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12];
    const line = (cid: number) => `nvme nvme0: I/O tag ${cid} (${cid.toString(16).padStart(4, '0')}) opcode ${cid % 2 === 1 ? '0x1' : '0x2'} (I/O Cmd) QID 2 timeout`;
    expect(t.initiator.log.lines().map((l) => l.text)).toEqual([line(1), 'nvme nvme0: starting error recovery', ...stuck.slice(1).map(line)]);
    // The target printed nothing (flushed completions are ignored) and, told by the CM
    // disconnect, frees every queue of the association once its requests are released.
    expect(targetLines(t, from)).toEqual([]);
    t.kernel.clock.runUntil(t.kernel.clock.now() + 1e9);
    expect(t.transport.queues.size).toBe(0);
    expect(t.target.subsystems.size > 0 && [...t.target.subsystems.values()].every((s) => s.ctrls.length === 0)).toBe(true);
    expect(c.state).toBe('failed');
    expect(c.ioQueues.every((q) => !q.alive && !q.timerArmed && q.pending.size === 0)).toBe(true);
    // A command on the failed controller is lost at once (no reconnect in the model).
    expect(c.submit(1, nvmeRwCommand({ write: false, nsid: 1, slba: 0, nlb: 1 }), { readLen: 512 }).result?.lost).toBe(true);
    // wait() on handles already reported returns the same results, and reports nothing twice.
    expect(c.wait(ios).map(outcome)).toEqual(rs.map(outcome));
    expect(calls).toEqual(new Array(24).fill(1));
    f.clear();
    expect(nvmetTestbedTeardown(t)).toBe(true);
    expect(nvmetTestbedLeaks(t)).toEqual(NO_LEAKS);
  });

  for (const kind of ['rnic-dma-error', 'rnic-completion-error'] as const) {
    it(`${kind}, seeds 1-6: no command outlives the request timeout, each completes exactly once, nothing leaks after teardown`, () => {
      for (let seed = 1; seed <= 6; seed++) {
        const t = bed();
        const f = injectTestbedFault(t, kind, new KernelRng(seed));
        if ('error' in f) throw new Error(f.error);
        const t0 = t.kernel.clock.now();
        const { ios, calls } = submitBatch(t.ctrl!);
        t.ctrl!.wait(ios);
        expect(ios.every((io) => io.done), `seed ${seed}`).toBe(true);
        expect(calls, `seed ${seed}`).toEqual(new Array(24).fill(1));
        expect(t.kernel.clock.now() - t0).toBeLessThanOrEqual(NVMF_DEFAULT_TIMEOUT_NS);
        f.clear();
        expect(nvmetTestbedTeardown(t)).toBe(true);
        expect(nvmetTestbedLeaks(t), `seed ${seed}`).toEqual(NO_LEAKS);
      }
    });
  }

  it('the caller reconnects after error recovery: the failed controller keeps nvme0 until disconnected, the new one is nvme1 and serves I/O', () => {
    const t = bed();
    const f = injectTestbedFault(t, 'rnic-dma-error', new KernelRng(1));
    if ('error' in f) throw new Error(f.error);
    t.ctrl!.wait(submitBatch(t.ctrl!).ios);
    f.clear();
    const again = t.initiator.connect({ traddr: t.traddr, subsysnqn: t.subsysnqn, nrIoQueues: 2 });
    if ('error' in again) throw new Error(again.error);
    expect(again.name).toBe('nvme1');
    const d = pattern(BLOCKS * 512, 99);
    expect(again.write(1, 0, d, 2).cqe?.status).toBe(0);
    expectBytes(again.read(1, 0, BLOCKS, 2).data, d);
    t.ctrl!.disconnect();
    expect(t.ctrl!.state).toBe('deleted');
    again.disconnect();
    const third = t.initiator.connect({ traddr: t.traddr, subsysnqn: t.subsysnqn });
    if ('error' in third) throw new Error(third.error);
    expect(third.name).toBe('nvme0');
    third.disconnect();
    t.kernel.clock.runUntilIdle();
    expect(nvmetTestbedLeaks(t)).toEqual(NO_LEAKS);
  });
});

describe('blk-mq request timer: one per queue, never one per command (blk_add_timer / blk_mq_timeout_work)', () => {
  it('a healthy run of 64 commands arms each I/O queue timer once; once idle and past the timeout no host timer is left (clock.pending() as an idle testbed)', () => {
    const t = bed();
    const idle = bed();
    const c = t.ctrl!;
    const clock = t.kernel.clock;
    const ios: NvmfIo[] = [];
    for (let i = 0; i < 64; i++) ios.push(c.submit(1 + (i % 2), nvmeRwCommand({ write: false, nsid: 1, slba: i * BLOCKS, nlb: BLOCKS }), { readLen: BLOCKS * 512 }));
    expect(c.ioQueues.map((q) => [q.timerArmed, q.timerArms])).toEqual([
      [true, 1],
      [true, 1],
    ]);
    expect(c.wait(ios).every((r) => r.cqe?.status === 0)).toBe(true);
    expect(c.ioQueues.map((q) => q.timerArms)).toEqual([1, 1]);
    // The timers fire with nothing in flight and are not re-armed (the kernel's timer likewise
    // expires idle); the host's pending timers are then exactly an idle testbed's.
    const until = clock.now() + NVMF_DEFAULT_TIMEOUT_NS + 1e9;
    clock.runUntil(until);
    idle.kernel.clock.runUntil(until);
    expect(c.ioQueues.map((q) => q.timerArmed)).toEqual([false, false]);
    expect(clock.pending()).toBe(idle.kernel.clock.pending());
    expect(c.state).toBe('live');
    expect(t.initiator.log.lines()).toEqual([]);
    for (const b of [t, idle]) {
      expect(nvmetTestbedTeardown(b)).toBe(true);
      expect(nvmetTestbedLeaks(b)).toEqual(NO_LEAKS);
    }
  });

  it('the Asynchronous Event Request is never timed out: an idle controller stays live for ten timeouts', () => {
    const t = bed();
    t.kernel.clock.runUntil(t.kernel.clock.now() + 10 * NVMF_DEFAULT_TIMEOUT_NS);
    expect(t.ctrl!.state).toBe('live');
    // The AER stays outstanding (a keep-alive may be in flight beside it).
    expect(t.ctrl!.admin!.pending.size).toBeGreaterThanOrEqual(1);
    expect(t.ctrl!.asyncEvents).toEqual([]);
    expect(t.initiator.log.lines()).toEqual([]);
    expect(nvmetTestbedTeardown(t)).toBe(true);
  });

  it('a command completing 1 ns before its deadline is not failed; with the deadline 1 ns earlier it times out (CSTS.CFS: the drive answers after its own 30 s timeout and reset)', () => {
    // Measure when the write completes with a generous host timeout (deterministic testbed).
    const probe = bed({ hostTimeoutNs: 60e9 });
    nvmeControllerOf(probe.drive)!.injectFatal();
    const p0 = probe.kernel.clock.now();
    const io = probe.ctrl!.submit(1, nvmeRwCommand({ write: true, nsid: 1, slba: 0, nlb: BLOCKS }), { write: pattern(BLOCKS * 512, 5) });
    while (!io.done && probe.kernel.clock.runNext());
    const took = probe.kernel.clock.now() - p0;
    expect(io.result?.cqe?.status).toBe(0);
    expect(took).toBeGreaterThan(30e9);

    const run = (hostTimeoutNs: number): { t: NvmetTestbed; r: NvmfCompletionResult } => {
      const t = bed({ hostTimeoutNs });
      nvmeControllerOf(t.drive)!.injectFatal();
      const r = t.ctrl!.write(1, 0, pattern(BLOCKS * 512, 5));
      return { t, r };
    };
    const ok = run(took + 1);
    expect(ok.r.cqe?.status).toBe(0);
    expect(ok.t.ctrl!.state).toBe('live');
    expect(ok.t.initiator.log.lines()).toEqual([]);
    expectBytes(ok.t.ctrl!.read(1, 0, BLOCKS).data, pattern(BLOCKS * 512, 5));

    const late = run(took - 1);
    expect(late.r.lost).toBe(true);
    expect(late.t.ctrl!.state).toBe('failed');
    expect(late.t.initiator.log.lines().map((l) => l.text)).toEqual(['nvme nvme0: I/O tag 1 (0001) opcode 0x1 (I/O Cmd) QID 1 timeout', 'nvme nvme0: starting error recovery']);
    for (const b of [probe, ok.t, late.t]) {
      expect(nvmetTestbedTeardown(b)).toBe(true);
      expect(nvmetTestbedLeaks(b)).toEqual(NO_LEAKS);
    }
  });

  it('an initiator refuses a request timeout that is not a positive number of nanoseconds', () => {
    const host = new RemoteHost({ name: 'h', memoryBytes: 1 << 20 });
    const mk = (timeoutNs: number) => () => new NvmfInitiator({ host, network: new RdmaCmNetwork(), clock: new VirtualClock(), timeoutNs });
    expect(mk(0)).toThrow('initiator h: timeoutNs 0: expected a positive number of nanoseconds');
    expect(mk(Number.NaN)).toThrow('initiator h: timeoutNs NaN: expected a positive number of nanoseconds');
    expect(mk(1).call(null).timeoutNs).toBe(1);
  });
});
