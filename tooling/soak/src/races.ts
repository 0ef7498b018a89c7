/**
 * Races on the virtual clock (issue 9): a main program (connect, a batch of writes, a batch of
 * mixed reads and writes) runs on the nvmet testbed while racing actions fire at chosen clock
 * steps. An interleaving is a seed: it picks the policy and buffer placement, the I/O, and the
 * step (the k-th `clock.runNext()`, counted across every caller, synchronous helpers included)
 * at which each racing action fires. Actions that find their step never reached fire after the
 * main program, in step order, so every interleaving runs every action.
 *
 * Invariants checked per interleaving (`RaceRunResult.violations`):
 * - no exception escapes (a `KernelBug` or any other throw is a violation);
 * - every submitted I/O completes exactly once: success, an error status, or lost — and lost
 *   only when its connection is gone (a command on a live queue that does not complete within
 *   the initiator's timeout is a hang);
 * - every acknowledged write reads back intact after the race (the race's `heal` restores the
 *   configuration; the host reconnects when its controller is gone);
 * - nothing leaks once every controller has disconnected (`checkLeaks`);
 * - every error or warning line in the kernel log is one the kernel prints (`KERNEL_LINES`).
 *
 * @kernel — (test tooling over drivers/nvme/target core.c, configfs.c and rdma.c lifetimes)
 */
import type { LogLine, P2pdmaPolicy } from '@p2pdma/kernel';
import { KERN_WARNING, KernelBug, KernelRng } from '@p2pdma/kernel';
import type { NvmetPlacement, NvmetTestbed, NvmfHostQueue, NvmfIo } from '@p2pdma/nvmet';
import { buildNvmetTestbed, nvmeRwCommand, nvmetConfigfsPath, NvmfController, NvmfInitiator } from '@p2pdma/nvmet';
import { RemoteHost } from '@p2pdma/rdma-rw';
import type { IoCounts, IoOutcome } from './io-ledger';
import { patternFor, WriteLedger } from './io-ledger';
import type { LeakBaseline } from './leaks';
import { checkLeaks, leakBaseline } from './leaks';

/** Namespace size of a race testbed. */
export const RACE_NAMESPACE_BYTES = 4 * 2 ** 20;
/** Blocks per I/O slot. */
export const RACE_SLOT_BLOCKS = 8;
/** I/Os per batch of the main program. */
export const RACE_BATCH_IOS = 12;
/** Racing actions fire at a step in `0 .. RACE_STEP_RANGE - 1` (a main program takes about 90 steps). */
export const RACE_STEP_RANGE = 100;
/**
 * The host's request timeout in the races (the initiator's default): a command the target does
 * not answer is cancelled by the host's error recovery by then. One still in flight on a live
 * queue `RACE_HANG_MARGIN_NS` later is a hang.
 */
export const RACE_IO_TIMEOUT_NS = 30_000_000_000;
/** Margin past the request timeout before a command counts as hung. */
export const RACE_HANG_MARGIN_NS = 1_000_000_000;
/** Virtual time given to teardown work (queue release, drains) before the leak check. */
export const RACE_SETTLE_NS = 1_000_000_000;

const LBA_SIZE = 512;
const NSID = 1;

/**
 * Error and warning lines the kernel prints for the refusals and failures the races provoke;
 * any other line at `KERN_WARNING` or above is a violation.
 */
export const KERNEL_LINES: readonly RegExp[] = [
  /^nvmet: Cannot modify address while enabled$/,
  /^nvmet: Disable the address before modifying$/,
  /^nvmet: Disable port '\d+' before changing attribute in nvmet_\w+_store$/,
  /^nvmet: Can't set allow_any_host when explicit hosts are set!$/,
  /^nvmet: can't add hosts when allow_any_host is set!$/,
  /^nvmet: connect by host .* for subsystem .* not allowed$/,
  /^nvmet: host .* not allowed to connect to subsystem .*$/,
  /^nvmet: connect request for invalid subsystem .*!$/,
  /^nvmet: could not find controller \d+ for subsys .* \/ host .*$/,
  /^nvmet: ctrl \d+ keep-alive timer \(\d+ seconds\) expired!$/,
  /^nvmet: ctrl \d+ fatal error occurred!$/,
  /^nvmet: failed to open block device .*: \(-\d+\)$/,
  // The seed series (v2) unmaps p2pmem it never mapped with dma_unmap_sg; dma-debug reports it.
  /^DMA-API: \S+ \S+: device driver tries to free DMA memory it has not allocated \[device address=0x[0-9a-f]+\] \[size=\d+ bytes\]$/,
];

/** What a racing action sees. */
export interface RaceCtx {
  /** The testbed. */
  readonly bed: NvmetTestbed;
  /** The nvmet configfs root. */
  readonly root: string;
  /** The subsystem's directory. */
  readonly subsys: string;
  /** The namespace's directory. */
  readonly ns: string;
  /** The port's directory. */
  readonly port: string;
  /** The main host's controller (null until connected or when connect failed). */
  ctrl: NvmfController | null;
  /** Every controller made during the run (for teardown and the leak check). */
  readonly ctrls: NvmfController[];
  /** A second host, made on first use. */
  host2: NvmfInitiator | null;
  /** Its controller. */
  ctrl2: NvmfController | null;
  /** Results of racing configfs operations, for reports (`<action>: <result>`). */
  readonly notes: string[];
}

/** A racing action. */
export interface RaceAction {
  /** Its name in reports. */
  readonly name: string;
  /** @param ctx the run. Fires it (whatever it returns is noted). */
  fire(ctx: RaceCtx): void;
}

/** A race: its actions and how to restore the configuration afterwards. */
export interface RaceDef {
  /** Name (`ns-enable-vs-connect`). */
  readonly name: string;
  /** What races what, and the kernel code it exercises. */
  readonly description: string;
  /** The racing actions. */
  readonly actions: readonly RaceAction[];
  /**
   * Restores the configuration the main host needs (namespace enabled, port linked, host
   * allowed), after every action has fired.
   * @param ctx the run.
   */
  heal(ctx: RaceCtx): void;
}

function write(ctx: RaceCtx, what: string, path: string, value: string): void {
  const r = ctx.bed.kernel.configfs.write(path, value);
  ctx.notes.push(`${what}: ${r}`);
}

/** Runs the clock until `ns` of virtual time passed (racers fire as usual). */
function runFor(bed: NvmetTestbed, ns: number): void {
  const clock = bed.kernel.clock;
  let done = false;
  const id = clock.schedule(ns, () => {
    done = true;
  });
  while (!done && clock.runNext());
  clock.cancel(id);
}

/** Waits (bounded) for a namespace disable to drain, then enables it. */
function enableNs(ctx: RaceCtx): void {
  const t = ctx.bed.target.subsystems.get(ctx.bed.subsysnqn);
  const ns = t?.nsItems.get(NSID);
  if (ns === undefined) return;
  const clock = ctx.bed.kernel.clock;
  const limit = clock.now() + RACE_SETTLE_NS;
  while (ns.disabling && clock.now() < limit && clock.runNext());
  write(ctx, 'heal: enable', `${ctx.ns}/enable`, '1\n');
}

function connectHost2(ctx: RaceCtx): void {
  if (ctx.host2 === null) {
    const host = new RemoteHost({ name: 'host2', memoryBytes: 2 * 2 ** 20 });
    ctx.host2 = new NvmfInitiator({ host, network: ctx.bed.network, clock: ctx.bed.kernel.clock });
  }
  if (ctx.ctrl2 !== null && !ctx.ctrl2.closed) return;
  const c = ctx.host2.connect({ traddr: ctx.bed.traddr, subsysnqn: ctx.bed.subsysnqn, queueSize: 32 });
  if (c instanceof NvmfController) {
    ctx.ctrl2 = c;
    ctx.ctrls.push(c);
    ctx.notes.push('host2 connect: ok');
  } else ctx.notes.push(`host2 connect: ${c.error}`);
}

const HOST2_NQN = 'nqn.2014-08.org.nvmexpress:uuid:host2';

/** The races, in report order. */
export const RACES: readonly RaceDef[] = [
  {
    name: 'ns-enable-vs-connect',
    description: 'namespace enable/disable racing controller connect and teardown (nvmet_ns_enable/disable vs nvmet_alloc_ctrl, nvmet_ctrl_free, I/O in flight)',
    actions: [
      { name: 'ns disable', fire: (c) => write(c, 'ns disable', `${c.ns}/enable`, '0\n') },
      { name: 'ns enable', fire: (c) => write(c, 'ns enable', `${c.ns}/enable`, '1\n') },
      { name: 'host2 connect', fire: connectHost2 },
      {
        name: 'host2 disconnect',
        fire: (c) => {
          c.ctrl2?.disconnect();
          c.notes.push(`host2 disconnect: ${c.ctrl2 === null ? 'no controller' : 'done'}`);
        },
      },
      {
        name: 'host1 disconnect',
        fire: (c) => {
          c.ctrl?.disconnect();
          c.notes.push(`host1 disconnect: ${c.ctrl === null ? 'no controller' : 'done'}`);
        },
      },
    ],
    heal: enableNs,
  },
  {
    name: 'port-disable-during-io',
    description: 'port disabled (last subsystem unlinked) and re-enabled during I/O, address stores racing it (nvmet_disable_port, nvmet_port_del_ctrls, nvmet_rdma_remove_port)',
    actions: [
      { name: 'unlink subsystem', fire: (c) => c.notes.push(`unlink subsystem: ${c.bed.kernel.configfs.unlink(`${c.port}/subsystems/${c.bed.subsysnqn}`)}`) },
      { name: 'relink subsystem', fire: (c) => c.notes.push(`relink subsystem: ${c.bed.kernel.configfs.symlink(c.subsys, `${c.port}/subsystems/${c.bed.subsysnqn}`)}`) },
      { name: 'addr_traddr store', fire: (c) => write(c, 'addr_traddr store', `${c.port}/addr_traddr`, `${c.bed.traddr}\n`) },
      { name: 'addr_trsvcid store', fire: (c) => write(c, 'addr_trsvcid store', `${c.port}/addr_trsvcid`, '4420\n') },
      { name: 'host2 connect', fire: connectHost2 },
    ],
    heal(c) {
      if (c.bed.kernel.configfs.findItem(`${c.port}/subsystems`)?.linkTargets().has(c.bed.subsysnqn) !== true) {
        c.notes.push(`heal: relink ${c.bed.kernel.configfs.symlink(c.subsys, `${c.port}/subsystems/${c.bed.subsysnqn}`)}`);
      }
    },
  },
  {
    name: 'configfs-writes-during-io',
    description: 'configfs stores during I/O: device_path, p2pmem / allow_p2pmem, namespace enable, allowed hosts and allow_any_host (nvmet configfs store rules vs I/O in flight)',
    actions: [
      { name: 'device_path store', fire: (c) => write(c, 'device_path store', `${c.ns}/device_path`, `${c.bed.blockPath}\n`) },
      {
        name: 'p2p store',
        fire: (c) => (c.bed.target.policy === 'v2' ? write(c, 'allow_p2pmem store', `${c.port}/allow_p2pmem`, '0\n') : write(c, 'p2pmem store', `${c.ns}/p2pmem`, '0\n')),
      },
      { name: 'ns disable', fire: (c) => write(c, 'ns disable', `${c.ns}/enable`, '0\n') },
      { name: 'ns enable', fire: (c) => write(c, 'ns enable', `${c.ns}/enable`, '1\n') },
      { name: 'allow_any_host 0', fire: (c) => write(c, 'allow_any_host 0', `${c.subsys}/attr_allow_any_host`, '0\n') },
      {
        name: 'allow host2',
        fire: (c) => {
          const cfs = c.bed.kernel.configfs;
          const host = `${c.root}/hosts/${HOST2_NQN}`;
          if (cfs.findItem(host) === null) c.notes.push(`mkdir host2: ${cfs.mkdir(host)}`);
          c.notes.push(`link host2: ${cfs.symlink(host, `${c.subsys}/allowed_hosts/${HOST2_NQN}`)}`);
        },
      },
      { name: 'host2 connect', fire: connectHost2 },
      { name: 'allow_any_host 1', fire: (c) => write(c, 'allow_any_host 1', `${c.subsys}/attr_allow_any_host`, '1\n') },
    ],
    heal(c) {
      const cfs = c.bed.kernel.configfs;
      for (const h of cfs.findItem(`${c.subsys}/allowed_hosts`)?.links() ?? []) c.notes.push(`heal: unlink ${h} ${cfs.unlink(`${c.subsys}/allowed_hosts/${h}`)}`);
      write(c, 'heal: allow_any_host', `${c.subsys}/attr_allow_any_host`, '1\n');
      enableNs(c);
    },
  },
];

/** Choices a test can pin instead of drawing them from the seed. */
export interface RacePin {
  /** The P2PDMA policy. */
  readonly policy?: P2pdmaPolicy;
  /** The buffer placement. */
  readonly placement?: NvmetPlacement;
  /** The step of each action, in `race.actions` order. */
  readonly steps?: readonly number[];
}

/** One interleaving's outcome. */
export interface RaceRunResult {
  /** The race. */
  readonly race: string;
  /** The interleaving's seed. */
  readonly seed: number;
  /** Policy and placement it drew. */
  readonly policy: P2pdmaPolicy;
  /** Buffer placement. */
  readonly placement: NvmetPlacement;
  /** Actions in firing order, with their step (`ns disable@17`). */
  readonly fired: readonly string[];
  /** Invariant violations (empty: the interleaving passed). */
  readonly violations: readonly string[];
  /** I/O counters of the run. */
  readonly ios: IoCounts;
  /** What the racing configfs operations returned. */
  readonly notes: readonly string[];
  /** Kernel log lines at `KERN_WARNING` or above printed during the run, in order. */
  readonly log: readonly string[];
  /** Clock steps the main program took before the remaining actions fired at its end. */
  readonly steps: number;
}

interface Tracked {
  readonly io: NvmfIo;
  readonly q: NvmfHostQueue;
  completions: number;
}

function outcomeOf(cqe: { status: number } | null): IoOutcome {
  if (cqe === null) return 'lost';
  return cqe.status === 0 ? 'ok' : 'failed';
}

/** Submits one I/O on a queue, tracked by the ledger. */
function submit(ledger: WriteLedger, q: NvmfHostQueue, slot: number, nlb: number, write: boolean, seq: number, tracked: Tracked[]): void {
  const lba = ledger.slotLba(slot);
  if (!ledger.acquire(slot)) return;
  const data = write ? patternFor(seq, lba, nlb, LBA_SIZE) : null;
  const t: { tr: Tracked | null } = { tr: null };
  const cmd = nvmeRwCommand({ write, nsid: NSID, slba: lba, nlb });
  let completions = 0;
  const io = q.submit(cmd, write ? { write: data! } : { readLen: nlb * LBA_SIZE }, (r) => {
    completions++;
    if (t.tr !== null) t.tr.completions = completions;
    if (completions > 1) return;
    ledger.release(slot);
    const o = outcomeOf(r.cqe);
    if (write) ledger.wrote(lba, data!, o);
    else ledger.read(lba, nlb, o, r.data, `race read of slot ${slot}`);
  });
  t.tr = { io, q, completions };
  tracked.push(t.tr);
}

/** Runs the clock until every tracked I/O is done or the timeout passes; reports hangs. */
function drain(bed: NvmetTestbed, tracked: readonly Tracked[], violations: string[]): void {
  const clock = bed.kernel.clock;
  const limit = clock.now() + RACE_IO_TIMEOUT_NS + RACE_HANG_MARGIN_NS;
  while (tracked.some((t) => !t.io.done) && clock.now() <= limit && clock.runNext());
  const stuck = tracked.filter((t) => !t.io.done);
  if (stuck.length === 0) return;
  const live = stuck.filter((t) => t.q.alive);
  if (live.length > 0) violations.push(`${live.length} I/O(s) on a live queue did not complete within ${RACE_IO_TIMEOUT_NS / 1e9} s of virtual time (hang)`);
  for (const t of stuck) t.q.failIos([t.io]);
}

function ctrlAlive(c: NvmfController | null): boolean {
  return c !== null && !c.closed && c.admin?.alive === true && c.ioQueues.length > 0 && c.ioQueues.every((q) => q.alive);
}

/**
 * Runs one interleaving of a race.
 * @param race the race.
 * @param seed the interleaving (policy, placement, I/O and action steps derive from it).
 * @param pin choices to pin instead (tests reproducing one interleaving).
 * @returns what fired, the violations, the I/O counts.
 * @throws RangeError when `pin.steps` does not give one step per action.
 */
export function runRace(race: RaceDef, seed: number, pin: RacePin = {}): RaceRunResult {
  const rng = new KernelRng(seed * 2654435761 + 1);
  const policy: P2pdmaPolicy = pin.policy ?? (seed % 2 === 0 ? 'upstream' : 'v2');
  const placement = pin.placement ?? (['p2pmem', 'system', 'cmb'] as const)[Math.floor(seed / 2) % 3]!;
  if (pin.steps !== undefined && pin.steps.length !== race.actions.length) {
    throw new RangeError(`runRace(${race.name}): ${pin.steps.length} pinned steps for ${race.actions.length} actions`);
  }
  const violations: string[] = [];
  const fired: string[] = [];
  const notes: string[] = [];
  const log: string[] = [];
  const ledger = new WriteLedger(RACE_NAMESPACE_BYTES / LBA_SIZE, LBA_SIZE, RACE_SLOT_BLOCKS);
  const built = buildNvmetTestbed({ policy, placement, seed, namespaceBytes: RACE_NAMESPACE_BYTES, hostMemoryBytes: 4 * 2 ** 20, connect: false });
  if ('error' in built) return { race: race.name, seed, policy, placement, fired, violations: [`testbed: ${built.error}`], ios: ledger.counts, notes, log, steps: 0 };
  const bed = built;
  const root = nvmetConfigfsPath(bed.target);
  const ctx: RaceCtx = {
    bed,
    root,
    subsys: `${root}/subsystems/${bed.subsysnqn}`,
    ns: `${root}/subsystems/${bed.subsysnqn}/namespaces/${NSID}`,
    port: `${root}/ports/1`,
    ctrl: null,
    ctrls: [],
    host2: null,
    ctrl2: null,
    notes,
  };
  const base: LeakBaseline = leakBaseline(bed);
  const logBad: string[] = [];
  const unsubscribe = bed.kernel.log.subscribe((l: LogLine) => {
    if (l.level > KERN_WARNING) return;
    log.push(l.text);
    if (!KERNEL_LINES.some((re) => re.test(l.text))) logBad.push(l.text);
  });
  // The schedule: each action's step, fired from inside the clock's runNext.
  const schedule = race.actions.map((a, i) => ({ a, i, at: pin.steps?.[i] ?? rng.int(0, RACE_STEP_RANGE - 1), done: false })).sort((x, y) => x.at - y.at || x.i - y.i);
  const clock = bed.kernel.clock;
  const origRunNext = clock.runNext;
  let step = 0;
  let mainSteps = 0;
  let firing = false;
  const fireDue = (force: boolean): void => {
    if (firing) return;
    firing = true;
    try {
      for (const s of schedule) {
        if (s.done || (!force && s.at > step)) continue;
        s.done = true;
        fired.push(`${s.a.name}@${force ? `end(${s.at})` : step}`);
        s.a.fire(ctx);
      }
    } finally {
      firing = false;
    }
  };
  clock.runNext = () => {
    fireDue(false);
    step++;
    return origRunNext.call(clock);
  };
  try {
    const c = bed.initiator.connect({ traddr: bed.traddr, subsysnqn: bed.subsysnqn, nrIoQueues: 1, queueSize: 64 });
    if (c instanceof NvmfController) {
      ctx.ctrl = c;
      ctx.ctrls.push(c);
    } else notes.push(`host1 connect: ${c.error}`);
    let seq = 1;
    const tracked: Tracked[] = [];
    for (const phase of [0, 1]) {
      const c1 = ctx.ctrl;
      const q = c1?.ioQueues[0];
      if (q === undefined) break;
      const batch: Tracked[] = [];
      for (let i = 0; i < RACE_BATCH_IOS; i++) {
        const known = ledger.knownSlots();
        const isWrite = phase === 0 || known.length === 0 || rng.next() < 0.5;
        const slot = isWrite ? rng.int(0, ledger.slots - 1) : known[rng.int(0, known.length - 1)]!;
        submit(ledger, q, slot, rng.int(1, RACE_SLOT_BLOCKS), isWrite, seq++, batch);
      }
      drain(bed, batch, violations);
      tracked.push(...batch);
    }
    mainSteps = step;
    fireDue(true);
    runFor(bed, RACE_SETTLE_NS / 10);
    for (const t of tracked) if (t.completions !== 1) violations.push(`an I/O completed ${t.completions} times`);
    // Heal, reconnect if needed, and read every acknowledged slot back.
    race.heal(ctx);
    runFor(bed, RACE_SETTLE_NS / 10);
    if (!ctrlAlive(ctx.ctrl)) {
      ctx.ctrl?.disconnect();
      const c2 = bed.initiator.connect({ traddr: bed.traddr, subsysnqn: bed.subsysnqn, nrIoQueues: 1, queueSize: 64 });
      if (c2 instanceof NvmfController) {
        ctx.ctrl = c2;
        ctx.ctrls.push(c2);
      } else {
        ctx.ctrl = null;
        violations.push(`after heal the host cannot reconnect: ${c2.error}`);
      }
    }
    const cv = ctx.ctrl;
    if (cv !== null) {
      const slots = ledger.knownSlots();
      const ios = slots.map((slot) => cv.submit(1, nvmeRwCommand({ write: false, nsid: NSID, slba: ledger.slotLba(slot), nlb: RACE_SLOT_BLOCKS }), { readLen: RACE_SLOT_BLOCKS * LBA_SIZE }));
      const results = cv.wait(ios);
      results.forEach((r, i) => {
        const slot = slots[i]!;
        if (r.cqe === null || r.cqe.status !== 0 || r.data === null) violations.push(`verify read of slot ${slot} failed (${r.cqe === null ? 'lost' : `status 0x${r.cqe.status.toString(16)}`})`);
        else ledger.verify(ledger.slotLba(slot), RACE_SLOT_BLOCKS, r.data, `verify slot ${slot}`);
      });
    }
    if (ledger.counts.ackedBlocksLost > 0) violations.push(`${ledger.counts.ackedBlocksLost} acknowledged block(s) lost: ${ledger.mismatches.join('; ')}`);
    // Teardown and the leak check.
    for (const c of ctx.ctrls) c.disconnect();
    runFor(bed, RACE_SETTLE_NS);
    for (const l of checkLeaks(bed, base, ctx.ctrls)) violations.push(`leak: ${l}`);
  } catch (e) {
    const kind = e instanceof KernelBug ? 'KernelBug' : e instanceof Error ? e.constructor.name : typeof e;
    violations.push(`threw ${kind}: ${e instanceof Error ? (e.stack ?? e.message).split('\n').slice(0, 4).join(' | ') : String(e)}`);
  } finally {
    clock.runNext = origRunNext;
    unsubscribe();
  }
  for (const l of logBad.slice(0, 4)) violations.push(`kernel log line not in KERNEL_LINES: ${JSON.stringify(l)}`);
  return { race: race.name, seed, policy, placement, fired, violations, ios: ledger.counts, notes, log, steps: mainSteps };
}
