/**
 * `stack_iops`: NVMe-oF writes per wall-clock second through the whole modelled stack.
 *
 * The machine is nvmet's testbed (`buildNvmetTestbed`: the seed-switch topology, the ConnectX
 * RNIC on mlx5, the NVMe drive on the NVMe driver, the target exporting its namespace over RDMA,
 * an initiator on a remote host). The initiator keeps `inFlight` (32) writes queued on I/O queue
 * 1, driving the shared virtual clock with `runNext()`; each write carries its own payload (a
 * window of a seeded random pool, stamped with the I/O's number), which travels initiator → RNIC →
 * target buffer (p2pmem or System RAM by `placement`) → bio → NVMe driver → controller → media.
 *
 * The workload verifies itself: after the timed phase every LBA range written is read back
 * through the same stack (timed separately) and compared with the payload last written there.
 * A mismatch throws `StackVerifyError` naming the LBA and byte offset, which fails the benchmark.
 * `corrupt` flips one byte in the drive's media between the two phases (the test hook proving
 * that verification is real).
 */
import type { NvmetPlacement } from '@p2pdma/nvmet';
import { buildNvmetTestbed, nvmeRwCommand } from '@p2pdma/nvmet';
import type { NvmfCompletionResult, NvmfHostQueue } from '@p2pdma/nvmet';
import { nvmeControllerOf } from '@p2pdma/nvme-pci';

/** Options of `runStack`. */
export interface StackOptions {
  /** Buffer placement on the target (default `p2pmem`). */
  readonly placement?: NvmetPlacement;
  /** Bytes per I/O, a multiple of the namespace's block size (default 4096). */
  readonly ioBytes?: number;
  /** Commands kept in flight (default 32). */
  readonly inFlight?: number;
  /** The I/O queue's depth asked at connect (default 128). */
  readonly queueSize?: number;
  /** Untimed writes first, to warm the JIT (default 512). */
  readonly warmupIos?: number;
  /** Length of the timed phase in milliseconds of wall-clock time (default 1500). */
  readonly measureMs?: number;
  /** Fewest timed writes, whatever the time (default 64). */
  readonly minIos?: number;
  /** Most timed writes (default: no limit; tests use it for an exact count). */
  readonly maxIos?: number;
  /** Bytes of the LBA window the writes cycle through (default 32 MiB). */
  readonly windowBytes?: number;
  /** Seed of the payloads and of the target kernel's RNG (default 1). */
  readonly seed?: number;
  /**
   * Test hook: after the writes, flip one byte of the media (xor 0xff) in the range of write
   * slot `slot` (default 0) at byte `offset` of that range. Verification must then fail.
   */
  readonly corrupt?: { readonly slot?: number; readonly offset: number };
}

/** What a stack run measured. */
export interface StackResult {
  /** Buffer placement. */
  readonly placement: NvmetPlacement;
  /** Bytes per I/O. */
  readonly ioBytes: number;
  /** Timed writes completed. */
  readonly ios: number;
  /** Wall-clock seconds of the timed phase. */
  readonly seconds: number;
  /** Timed writes per second. */
  readonly iops: number;
  /** Data bytes written per wall-clock second in the timed phase. */
  readonly bytesPerSec: number;
  /** The read-back: LBA ranges compared, bytes compared, milliseconds it took. */
  readonly verify: { readonly ranges: number; readonly bytes: number; readonly ms: number };
}

/** A read-back did not return what was written. */
export class StackVerifyError extends Error {
  /**
   * @param lba the first LBA of the I/O whose data differs.
   * @param offset the first differing byte within that I/O.
   * @param message the full description.
   */
  constructor(
    readonly lba: number,
    readonly offset: number,
    message: string,
  ) {
    super(message);
    this.name = 'StackVerifyError';
  }
}

/** Bytes of the seeded random pool payloads are cut from. */
const POOL_BYTES = 1 << 20;

/** The payload generator: windows of a seeded pool, each stamped with its I/O number. */
class Payloads {
  private readonly pool: Uint8Array;
  constructor(
    seed: number,
    private readonly ioBytes: number,
  ) {
    const words = new Uint32Array((POOL_BYTES + ioBytes) / 4);
    let s = seed >>> 0 || 1;
    for (let i = 0; i < words.length; i++) {
      // xorshift32: a whole word per step, no per-byte work.
      s ^= s << 13;
      s >>>= 0;
      s ^= s >>> 17;
      s ^= s << 5;
      s >>>= 0;
      words[i] = s;
    }
    this.pool = new Uint8Array(words.buffer);
  }
  /** The payload of I/O `n`: distinct for every n (its number is in the first 8 bytes). */
  make(n: number): Uint8Array {
    const start = (Math.imul(n, 0x9e3779b1) >>> 0) % (POOL_BYTES / 4);
    const out = this.pool.slice(start * 4, start * 4 + this.ioBytes);
    const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
    view.setUint32(0, n >>> 0, true);
    if (this.ioBytes >= 8) view.setUint32(4, Math.floor(n / 2 ** 32), true);
    return out;
  }
}

function failed(r: NvmfCompletionResult): string | null {
  if (r.lost) return 'lost (the connection went away or the queue was full)';
  if (r.cqe === null) return 'no completion entry';
  if (r.cqe.status !== 0) return `NVMe status 0x${r.cqe.status.toString(16)}`;
  return null;
}

function hexByte(b: number | undefined): string {
  return b === undefined ? 'nothing' : `0x${b.toString(16).padStart(2, '0')}`;
}

/**
 * Runs the write workload, then verifies every range written.
 * @param opts placement, I/O size, queue depth, timing, the corruption hook.
 * @returns the measured rate and the verification summary.
 * @throws StackVerifyError when a read-back differs from the data written; Error when the
 *   testbed cannot be built, an I/O fails or the clock stalls with I/Os in flight; RangeError for
 *   an I/O size that is not a whole number of blocks.
 */
export function runStack(opts: StackOptions = {}): StackResult {
  const placement = opts.placement ?? 'p2pmem';
  const ioBytes = opts.ioBytes ?? 4096;
  const inFlight = opts.inFlight ?? 32;
  const seed = opts.seed ?? 1;
  const tb = buildNvmetTestbed({ placement, queueSize: opts.queueSize ?? 128, seed });
  if ('error' in tb) throw new Error(`stack (${placement}): testbed: ${tb.error}`);
  const ctrl = tb.ctrl;
  const q: NvmfHostQueue | undefined = ctrl?.ioQueues[0];
  const ns = ctrl?.namespaces.get(tb.nsid);
  if (ctrl === null || q === undefined || ns === undefined) throw new Error(`stack (${placement}): the initiator has no I/O queue or namespace ${tb.nsid}`);
  if (!Number.isInteger(ioBytes) || ioBytes <= 0 || ioBytes % ns.lbaSize !== 0) {
    throw new RangeError(`stack: I/O size ${ioBytes} is not a positive multiple of the ${ns.lbaSize}-byte block`);
  }
  const nlb = ioBytes / ns.lbaSize;
  const slots = Math.max(1, Math.min(Math.floor((opts.windowBytes ?? 32 * 2 ** 20) / ioBytes), Math.floor(ns.nsze / nlb)));
  const payloads = new Payloads(seed, ioBytes);
  const lastWriter = new Float64Array(slots).fill(-1);
  const clock = ctrl.initiator.clock;
  const nsid = tb.nsid;
  let next = 0;
  let pending = 0;

  const submitWrite = (): void => {
    const n = next++;
    const slot = n % slots;
    lastWriter[slot] = n;
    pending++;
    q.submit(nvmeRwCommand({ write: true, nsid, slba: slot * nlb, nlb }), { write: payloads.make(n) }, (r) => {
      pending--;
      const why = failed(r);
      if (why !== null) throw new Error(`stack (${placement}): write ${n} to LBA ${slot * nlb}: ${why}`);
    });
  };
  const drain = (what: string): void => {
    while (pending > 0) {
      if (!clock.runNext()) throw new Error(`stack (${placement}): ${what}: the clock stalled with ${pending} I/Os in flight`);
    }
  };
  /** Writes `count` I/Os (or until `untilMs` passes, when given) with `inFlight` queued. */
  const writes = (count: number, untilMs: number | null, minIos: number): number => {
    const first = next;
    const t0 = performance.now();
    let ticks = 0;
    while (next - first < count) {
      while (pending < inFlight && next - first < count) submitWrite();
      if (!clock.runNext()) throw new Error(`stack (${placement}): the clock stalled with ${pending} writes in flight`);
      if (untilMs !== null && ++ticks % 64 === 0 && next - first >= minIos && performance.now() - t0 >= untilMs) break;
    }
    drain('writes');
    return next - first;
  };

  writes(opts.warmupIos ?? 512, null, 0);
  const t0 = performance.now();
  const ios = writes(opts.maxIos ?? Number.POSITIVE_INFINITY, opts.measureMs ?? 1500, opts.minIos ?? 64);
  const seconds = (performance.now() - t0) / 1000;

  if (opts.corrupt !== undefined) {
    const media = nvmeControllerOf(tb.drive)?.media(nsid) ?? null;
    if (media === null) throw new Error(`stack (${placement}): corrupt: drive ${tb.drive.name} has no media for namespace ${nsid}`);
    const slot = opts.corrupt.slot ?? 0;
    if (slot < 0 || slot >= slots || lastWriter[slot]! < 0 || opts.corrupt.offset < 0 || opts.corrupt.offset >= ioBytes) {
      throw new RangeError(`stack: corrupt: slot ${slot} offset ${opts.corrupt.offset} is not inside a written range (${slots} slots of ${ioBytes} bytes)`);
    }
    const at = slot * nlb * ns.lbaSize + opts.corrupt.offset;
    const b = media.peek(at, 1);
    b[0] = b[0]! ^ 0xff;
    media.poke(at, b);
  }

  // Read back every written range through the stack and compare.
  const v0 = performance.now();
  let ranges = 0;
  let slot = 0;
  let mismatch: StackVerifyError | null = null;
  while (slot < slots || pending > 0) {
    while (pending < inFlight && slot < slots && mismatch === null) {
      const s = slot++;
      const writer = lastWriter[s]!;
      if (writer < 0) continue;
      pending++;
      q.submit(nvmeRwCommand({ write: false, nsid, slba: s * nlb, nlb }), { readLen: ioBytes }, (r) => {
        pending--;
        const why = failed(r);
        if (why !== null) throw new Error(`stack (${placement}): read-back of LBA ${s * nlb}: ${why}`);
        ranges++;
        const want = payloads.make(writer);
        const got = r.data;
        if (got !== null && got.length === want.length && Buffer.compare(got, want) === 0) return;
        if (mismatch !== null) return;
        let off = 0;
        const n = got === null ? 0 : Math.min(got.length, want.length);
        while (off < n && got![off] === want[off]) off++;
        mismatch = new StackVerifyError(
          s * nlb,
          off,
          `stack verify (${placement}, ${ioBytes}-byte I/O): LBA ${s * nlb} offset ${off}: wrote ${hexByte(want[off])}, read ${hexByte(got?.[off])} (write ${writer})`,
        );
      });
    }
    if (mismatch !== null && pending === 0) break;
    if (pending > 0 && !clock.runNext()) throw new Error(`stack (${placement}): read-back: the clock stalled with ${pending} reads in flight`);
  }
  if (mismatch !== null) throw mismatch;
  const verifyMs = performance.now() - v0;
  return { placement, ioBytes, ios, seconds, iops: ios / seconds, bytesPerSec: (ios * ioBytes) / seconds, verify: { ranges, bytes: ranges * ioBytes, ms: verifyMs } };
}
