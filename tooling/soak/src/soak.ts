/**
 * The soak program (`pnpm soak --seed N --duration S`): until the duration passes, it runs a
 * long mixed read/write workload on the nvmet testbed with randomly injected faults
 * (`SOAK_FAULT_KINDS`), interleaved with race rounds (`RACES`) and hostile-input batches
 * (`FUZZ_KINDS`). Every write is tracked (`WriteLedger`): acknowledged ones must read back
 * intact, during the run and at the end; failed ones are counted as failed. Any exception that
 * reaches the top of a round is a crash.
 *
 * Exit status: 0 when no acknowledged write was lost, nothing crashed and no race or fuzz
 * invariant broke; 1 otherwise; 2 for a bad command line (one line on stderr).
 *
 * @kernel — (test tooling: the issue 9 soak scenario)
 */
import type { P2pdmaPolicy } from '@p2pdma/kernel';
import { KernelBug, KernelRng } from '@p2pdma/kernel';
import type { NvmetPlacement, NvmetTestbed, NvmfHostQueue, NvmfIo } from '@p2pdma/nvmet';
import { buildNvmetTestbed, nvmeRwCommand, NvmfController } from '@p2pdma/nvmet';
import { runIfEntryPoint } from '@p2pdma/cli';
import type { SoakFaultKind, SoakFaultSource } from './faults';
import { SOAK_FAULT_KINDS } from './faults';
import type { FuzzContext } from './fuzz';
import { createFuzzContext, FUZZ_KINDS, runFuzzBatch } from './fuzz';
import type { IoOutcome } from './io-ledger';
import { patternFor, WriteLedger } from './io-ledger';
import type { LeakBaseline } from './leaks';
import { checkLeaks, leakBaseline } from './leaks';
import { RACES, runRace } from './races';

/** Fault sources injected by default. */
export const SOAK_FAULT_SOURCES: readonly SoakFaultSource[] = ['kernel', 'testbed'];

/** Exit status: nothing lost, nothing crashed. */
export const SOAK_EXIT_OK = 0;
/** Exit status: an acknowledged write was lost, a round crashed, or an invariant broke. */
export const SOAK_EXIT_FAILED = 1;
/** Exit status: bad command line. */
export const SOAK_EXIT_USAGE = 2;
/** Longest run accepted, in seconds (one day). */
export const SOAK_MAX_DURATION_S = 86_400;
/** Default seed and duration. */
export const SOAK_DEFAULTS = { seed: 1, durationSec: 60 } as const;
/** Chance that a workload round arms a fault. */
export const SOAK_FAULT_CHANCE = 0.6;
/** I/Os a workload round submits at once: at least, at most. */
export const SOAK_WORKLOAD_IOS = { min: 8, max: 48 } as const;
/**
 * Large I/Os: the chance that a round's first I/O is one, and the slots it spans (1 MiB: a
 * multi-WR RDMA context, so `rdma_rw_ctx_init`'s own allocations are exercised).
 */
export const SOAK_LARGE_IO = { chance: 0.25, slots: 256 } as const;
/** Every this many workload rounds, every acknowledged block is read back. */
export const SOAK_VERIFY_EVERY = 16;
/** Reads in flight at once while reading acknowledged blocks back. */
const VERIFY_BATCH = 48;
/** Chance that a workload round ends with a reconnect while its fault is armed. */
export const SOAK_RECONNECT_CHANCE = 0.15;
/** Inputs per fuzz round. */
export const SOAK_FUZZ_BATCH = 8;
/** The order of round kinds, repeated: two workload rounds per race or fuzz round. */
export const SOAK_ROUND_CYCLE: readonly SoakRoundKind[] = ['workload', 'race', 'workload', 'fuzz'];

/** A round of the soak loop. */
export type SoakRoundKind = 'workload' | 'race' | 'fuzz';

const LBA_SIZE = 512;
const NSID = 1;
const NAMESPACE_BYTES = 16 * 2 ** 20;
const SLOT_BLOCKS = 8;
const IO_QUEUES = 2;
/**
 * The host's request timeout (`hostTimeoutNs`, as `nvme_core.io_timeout=120`): longer than the
 * target's own recovery (a fatal controller status is found by the drive's 30 s request timeout,
 * then the controller resets and the command is requeued), so the host gives up only on a
 * command the target will never answer. It then runs error recovery: the commands in flight are
 * reported lost, the controller is failed, and the next round reconnects (`ensureConnected`).
 */
const IO_TIMEOUT_NS = 120_000_000_000;
const SETTLE_NS = 1_000_000_000;
/**
 * Virtual time a batch may take before it counts as a hang: the host's request timeout plus a
 * margin. Every command either completes or is cancelled by the host's error recovery by then.
 */
const HANG_LIMIT_NS = IO_TIMEOUT_NS + SETTLE_NS;
/** How many details of violations and crashes a summary keeps. */
const MAX_DETAILS = 20;

/** Options of a soak run. */
export interface SoakOptions {
  /** Seed of every random choice. */
  readonly seed: number;
  /** Wall-clock seconds to run (the current round finishes). */
  readonly durationSec: number;
  /** Milliseconds clock (default `performance.now`); injectable for tests. */
  readonly now?: () => number;
  /** Fault sources to inject (default both: `kernel` allocation sites and `testbed` device faults). */
  readonly faults?: readonly SoakFaultSource[];
}

/** The summary a run prints. */
export interface SoakSummary {
  /** The seed. */
  readonly seed: number;
  /** The duration asked for, in seconds. */
  readonly durationSec: number;
  /** Wall-clock seconds the run took. */
  elapsedSec: number;
  /** Workload testbeds used (each checked and torn down at its end). */
  testbeds: number;
  /** Rounds run, by kind. */
  readonly rounds: Record<SoakRoundKind, number>;
  /** Wall-clock seconds spent, by round kind. */
  readonly roundSec: Record<SoakRoundKind, number>;
  /** Workload I/O counts. */
  readonly ios: { reads: number; writes: number; ok: number; failed: number; lost: number; blocksVerified: number };
  /**
   * Faults by kind: times armed, failures they caused (`null` where the layer does not count
   * them), and times the testbed could not take the kind (no p2pmem card to unbind, ...).
   */
  readonly faults: Record<string, { armed: number; hits: number | null; notApplicable: number }>;
  /** Acknowledged blocks that could not be read back because a fault removed the device (not lost: unreachable). */
  unreachableBlocks: number;
  /** Connects refused while a fault was armed (allowed; the next round reconnects cleanly). */
  refusedConnects: number;
  /** Race interleavings run. */
  racesExplored: number;
  /** Hostile inputs run. */
  inputsFuzzed: number;
  /** Acknowledged blocks that did not read back intact (must be 0). */
  ackedWritesLost: number;
  /** Exceptions caught at the top of a round (must be 0). */
  crashes: number;
  /** Race, fuzz, hang and leak invariant violations (must be 0). */
  violations: number;
  /** The first crashes and violations, one line each. */
  readonly details: string[];
}

interface Workload {
  readonly bed: NvmetTestbed;
  readonly base: LeakBaseline;
  readonly ledger: WriteLedger;
  readonly ctrls: NvmfController[];
  ctrl: NvmfController | null;
  seq: number;
  /** A fault took the device away: its data cannot be read back. */
  deviceGone: boolean;
}

function alive(c: NvmfController | null): boolean {
  return c !== null && !c.closed && c.admin?.alive === true && c.ioQueues.length > 0 && c.ioQueues.every((q) => q.alive);
}

function detail(s: SoakSummary, line: string): void {
  if (s.details.length < MAX_DETAILS) s.details.push(line.replace(/[\r\n]+/g, ' | '));
}

/**
 * The workload's testbeds, in turn: each serves `SOAK_ROUNDS_PER_TESTBED` workload rounds, is
 * checked (every acknowledged block read back, every controller gone, nothing leaked) and
 * replaced by the next.
 */
export const SOAK_TESTBEDS: ReadonlyArray<{ readonly policy: P2pdmaPolicy; readonly placement: NvmetPlacement }> = [
  { policy: 'upstream', placement: 'p2pmem' },
  { policy: 'v2', placement: 'p2pmem' },
  { policy: 'upstream', placement: 'system' },
  { policy: 'upstream', placement: 'cmb' },
  { policy: 'v2', placement: 'system' },
];
/** Workload rounds on one testbed before the next replaces it. */
export const SOAK_ROUNDS_PER_TESTBED = 48;

function newWorkload(seed: number, index: number): Workload {
  const { policy, placement } = SOAK_TESTBEDS[index % SOAK_TESTBEDS.length]!;
  const bed = buildNvmetTestbed({ policy, placement, seed, namespaceBytes: NAMESPACE_BYTES, hostMemoryBytes: 8 * 2 ** 20, connect: false, hostTimeoutNs: IO_TIMEOUT_NS });
  if ('error' in bed) throw new Error(`soak testbed: ${bed.error}`);
  return { bed, base: leakBaseline(bed), ledger: new WriteLedger(NAMESPACE_BYTES / LBA_SIZE, LBA_SIZE, SLOT_BLOCKS), ctrls: [], ctrl: null, seq: 1, deviceGone: false };
}

/** Connects the workload's host when its controller is gone (no faults are armed then). */
function ensureConnected(w: Workload): NvmfController {
  if (w.ctrl !== null && alive(w.ctrl)) return w.ctrl;
  w.ctrl?.disconnect();
  const c = w.bed.initiator.connect({ traddr: w.bed.traddr, subsysnqn: w.bed.subsysnqn, nrIoQueues: IO_QUEUES, queueSize: 64 });
  if (!(c instanceof NvmfController)) throw new Error(`soak: the host cannot reconnect: ${c.error}`);
  w.ctrl = c;
  w.ctrls.push(c);
  return c;
}

function outcomeOf(cqe: { status: number } | null): IoOutcome {
  if (cqe === null) return 'lost';
  return cqe.status === 0 ? 'ok' : 'failed';
}

/**
 * Runs the clock until the I/Os are done (completed, or lost to the host's request timeout and
 * error recovery); returns hang messages for any still in flight on a live queue after
 * `HANG_LIMIT_NS`.
 */
function drain(bed: NvmetTestbed, ios: ReadonlyArray<{ io: NvmfIo; q: NvmfHostQueue }>): string[] {
  const clock = bed.kernel.clock;
  const limit = clock.now() + HANG_LIMIT_NS;
  while (ios.some((t) => !t.io.done) && clock.now() <= limit && clock.runNext());
  const stuck = ios.filter((t) => !t.io.done);
  const out = stuck.some((t) => t.q.alive) ? [`workload: ${stuck.filter((t) => t.q.alive).length} I/O(s) on a live queue never completed (hang)`] : [];
  for (const t of stuck) t.q.failIos([t.io]);
  return out;
}

/** Reads every acknowledged slot back (no faults armed) and checks it. */
function verifyAll(w: Workload, s: SoakSummary, what: string): void {
  const c = ensureConnected(w);
  const slots = w.ledger.knownSlots();
  for (let i = 0; i < slots.length; i += VERIFY_BATCH) {
    const part = slots.slice(i, i + VERIFY_BATCH);
    const ios = part.map((slot, j) => c.submit(1 + (j % c.ioQueues.length), nvmeRwCommand({ write: false, nsid: NSID, slba: w.ledger.slotLba(slot), nlb: SLOT_BLOCKS }), { readLen: SLOT_BLOCKS * LBA_SIZE }));
    c.wait(ios).forEach((r, j) => {
      const slot = part[j]!;
      if (r.cqe === null || r.cqe.status !== 0 || r.data === null) {
        s.violations++;
        detail(s, `${what}: read of acknowledged slot ${slot} failed (${r.cqe === null ? 'lost' : `status 0x${r.cqe.status.toString(16)}`})`);
      } else w.ledger.verify(w.ledger.slotLba(slot), SLOT_BLOCKS, r.data, `${what} slot ${slot}`);
    });
  }
}

function workloadRound(w: Workload, rng: KernelRng, s: SoakSummary, lastRound: boolean, kinds: readonly SoakFaultKind[]): void {
  const c = ensureConnected(w);
  const bed = w.bed;
  let fault: SoakFaultKind | null = null;
  if (rng.next() < SOAK_FAULT_CHANCE) {
    // A fault that takes the device away only in the testbed's last round (its data cannot be
    // read back afterwards); the others at any time.
    const eligible = lastRound ? kinds : kinds.filter((f) => f.recovers !== false);
    fault = eligible.length === 0 ? null : eligible[rng.int(0, eligible.length - 1)]!;
    if (fault !== null) {
      if (fault.inject(bed, rng)) {
        s.faults[fault.kind]!.armed++;
        if (fault.recovers === false) w.deviceGone = true;
      } else s.faults[fault.kind]!.notApplicable++;
    }
  }
  const before = kinds.map((f) => f.hits(bed));
  const n = rng.int(SOAK_WORKLOAD_IOS.min, SOAK_WORKLOAD_IOS.max);
  const tracked: Array<{ io: NvmfIo; q: NvmfHostQueue }> = [];
  const known = w.ledger.knownSlots();
  for (let i = 0; i < n; i++) {
    const isWrite = known.length === 0 || rng.next() < 0.5;
    // At most one large I/O per round (it spans many slots; the host's buffer memory is bounded).
    const span = i === 0 && rng.next() < SOAK_LARGE_IO.chance ? SOAK_LARGE_IO.slots : 1;
    const pick = isWrite || span > 1 ? rng.int(0, w.ledger.slots - span) : known[rng.int(0, known.length - 1)]!;
    const slot = Math.min(pick, w.ledger.slots - span);
    if (!w.ledger.acquireRange(slot, span)) continue;
    const q = c.ioQueues[rng.int(0, c.ioQueues.length - 1)]!;
    const nlb = span > 1 ? span * SLOT_BLOCKS : rng.int(1, SLOT_BLOCKS);
    const lba = w.ledger.slotLba(slot);
    const data = isWrite ? patternFor(w.seq++, lba, nlb, LBA_SIZE) : null;
    let calls = 0;
    const io = q.submit(nvmeRwCommand({ write: isWrite, nsid: NSID, slba: lba, nlb }), data !== null ? { write: data } : { readLen: nlb * LBA_SIZE }, (r) => {
      calls++;
      if (calls > 1) {
        s.violations++;
        detail(s, `workload: an I/O completed ${calls} times`);
        return;
      }
      w.ledger.releaseRange(slot, span);
      const o = outcomeOf(r.cqe);
      if (data !== null) w.ledger.wrote(lba, data, o);
      else w.ledger.read(lba, nlb, o, r.data, 'workload read');
    });
    tracked.push({ io, q });
  }
  const hangs = drain(bed, tracked);
  for (const h of hangs) {
    s.violations++;
    detail(s, `${h} (fault armed: ${fault?.kind ?? 'none'})`);
  }
  // A hang is a model bug (the host's request timeout should have ended it): drop the
  // association so the next round starts on a fresh one.
  if (hangs.length > 0) c.disconnect();
  if (rng.next() < SOAK_RECONNECT_CHANCE) {
    // Reconnect while the fault may still be armed: a refused connect is allowed (the next
    // round reconnects with no fault armed), a leak or a crash is not.
    c.disconnect();
    const again = bed.initiator.connect({ traddr: bed.traddr, subsysnqn: bed.subsysnqn, nrIoQueues: IO_QUEUES, queueSize: 64 });
    if (again instanceof NvmfController) {
      w.ctrl = again;
      w.ctrls.push(again);
    } else s.refusedConnects++;
  }
  for (const f of kinds) f.clear(bed);
  kinds.forEach((f, i) => {
    const h = f.hits(bed);
    const entry = s.faults[f.kind]!;
    if (h === null) entry.hits = null;
    else if (entry.hits !== null) entry.hits += h - (before[i] ?? 0);
  });
}

/**
 * Runs a soak.
 * @param opts seed, duration, clock.
 * @returns the summary (the caller prints it).
 */
export function runSoak(opts: SoakOptions): SoakSummary {
  const now = opts.now ?? (() => performance.now());
  const start = now();
  const rng = new KernelRng(opts.seed);
  const sources = opts.faults ?? SOAK_FAULT_SOURCES;
  const kinds = SOAK_FAULT_KINDS.filter((f) => sources.includes(f.source));
  const s: SoakSummary = {
    seed: opts.seed,
    durationSec: opts.durationSec,
    elapsedSec: 0,
    testbeds: 0,
    rounds: { workload: 0, race: 0, fuzz: 0 },
    roundSec: { workload: 0, race: 0, fuzz: 0 },
    ios: { reads: 0, writes: 0, ok: 0, failed: 0, lost: 0, blocksVerified: 0 },
    faults: Object.fromEntries(kinds.map((f) => [f.kind, { armed: 0, hits: 0 as number | null, notApplicable: 0 }])),
    unreachableBlocks: 0,
    refusedConnects: 0,
    racesExplored: 0,
    inputsFuzzed: 0,
    ackedWritesLost: 0,
    crashes: 0,
    violations: 0,
    details: [],
  };
  const crash = (where: string, e: unknown): void => {
    s.crashes++;
    const kind = e instanceof KernelBug ? 'KernelBug' : e instanceof Error ? e.constructor.name : typeof e;
    detail(s, `crash in ${where}: ${kind}: ${e instanceof Error ? e.message : String(e)}`);
  };
  const fuzzCtx: FuzzContext[] = [createFuzzContext('upstream'), createFuzzContext('v2')];
  let w: Workload | null = null;
  const ledgerTotals = { reads: 0, writes: 0, ok: 0, failed: 0, lost: 0, blocksVerified: 0, ackedBlocksLost: 0 };
  const retire = (old: Workload): void => {
    for (const k of Object.keys(ledgerTotals) as Array<keyof typeof ledgerTotals>) ledgerTotals[k] += old.ledger.counts[k];
  };
  /** Checks a testbed's acknowledged data, tears it down, checks for leaks and retires it. */
  const finish = (old: Workload, what: string): void => {
    try {
      if (old.deviceGone) s.unreachableBlocks += old.ledger.knownSlots().length * SLOT_BLOCKS;
      else verifyAll(old, s, what);
      for (const c of old.ctrls) c.disconnect();
      const clock = old.bed.kernel.clock;
      let done = false;
      clock.schedule(SETTLE_NS, () => {
        done = true;
      });
      while (!done && clock.runNext());
      for (const l of checkLeaks(old.bed, old.base, old.ctrls)) {
        s.violations++;
        detail(s, `leak after the workload (${what}): ${l}`);
      }
    } catch (e) {
      crash(what, e);
    }
    retire(old);
  };
  let beds = 0;
  let round = 0;
  do {
    const kind = SOAK_ROUND_CYCLE[round % SOAK_ROUND_CYCLE.length]!;
    s.rounds[kind]++;
    const t0 = now();
    try {
      if (kind === 'workload') {
        if (w === null) w = newWorkload(opts.seed, beds++);
        workloadRound(w, rng, s, s.rounds.workload % SOAK_ROUNDS_PER_TESTBED === 0, kinds);
        if (s.rounds.workload % SOAK_ROUNDS_PER_TESTBED === 0) {
          finish(w, `check of testbed ${beds}`);
          w = null;
        } else if (s.rounds.workload % SOAK_VERIFY_EVERY === 0) verifyAll(w, s, 'periodic check');
      } else if (kind === 'race') {
        const race = RACES[s.rounds.race % RACES.length]!;
        const r = runRace(race, (opts.seed * 7919 + s.rounds.race) >>> 0);
        s.racesExplored++;
        for (const v of r.violations) {
          s.violations++;
          detail(s, `race ${race.name} seed ${r.seed}: ${v}`);
        }
      } else {
        const k = FUZZ_KINDS[s.rounds.fuzz % FUZZ_KINDS.length]!;
        const ctx = fuzzCtx[Math.floor(s.rounds.fuzz / FUZZ_KINDS.length) % fuzzCtx.length]!;
        const r = runFuzzBatch(k, ctx, (opts.seed * 104729 + s.rounds.fuzz) >>> 0, SOAK_FUZZ_BATCH);
        s.inputsFuzzed += r.inputs;
        for (const v of r.violations) {
          s.violations++;
          detail(s, `fuzz ${v}`);
        }
      }
    } catch (e) {
      crash(`${kind} round ${s.rounds[kind]}`, e);
      if (kind === 'workload' && w !== null) {
        // Start over on a fresh testbed; what the old one acknowledged is checked first.
        finish(w, 'check after a crash');
        w = null;
      }
    }
    s.roundSec[kind] += (now() - t0) / 1000;
    round++;
  } while (now() - start < opts.durationSec * 1000);
  if (w !== null) finish(w, 'final check');
  s.testbeds = beds;
  s.ios.reads = ledgerTotals.reads;
  s.ios.writes = ledgerTotals.writes;
  s.ios.ok = ledgerTotals.ok;
  s.ios.failed = ledgerTotals.failed;
  s.ios.lost = ledgerTotals.lost;
  s.ios.blocksVerified = ledgerTotals.blocksVerified;
  s.ackedWritesLost = ledgerTotals.ackedBlocksLost;
  s.elapsedSec = (now() - start) / 1000;
  return s;
}

/**
 * The exit status a summary calls for.
 * @param s the summary.
 * @returns `SOAK_EXIT_OK` or `SOAK_EXIT_FAILED`.
 */
export function soakExitCode(s: SoakSummary): number {
  return s.ackedWritesLost > 0 || s.crashes > 0 || s.violations > 0 ? SOAK_EXIT_FAILED : SOAK_EXIT_OK;
}

/**
 * The text summary.
 * @param s the summary.
 * @returns lines, newline-terminated.
 */
export function formatSoakSummary(s: SoakSummary): string {
  const faults = Object.entries(s.faults)
    .map(([k, f]) => `${k} ${f.hits ?? '-'}/${f.armed}${f.notApplicable > 0 ? ` (${f.notApplicable} n/a)` : ''}`)
    .join(', ');
  const lines = [
    `soak: seed ${s.seed}, duration ${s.durationSec} s, faults ${Object.keys(s.faults).length} kinds`,
    `workload testbeds: ${s.testbeds} (${SOAK_TESTBEDS.slice(0, Math.max(1, Math.min(s.testbeds, SOAK_TESTBEDS.length))).map((t) => `${t.policy}/${t.placement}`).join(', ')}${s.testbeds > SOAK_TESTBEDS.length ? ', ...' : ''})`,
    `rounds: ${s.rounds.workload} workload (${s.roundSec.workload.toFixed(1)} s), ${s.rounds.race} race (${s.roundSec.race.toFixed(1)} s), ${s.rounds.fuzz} fuzz (${s.roundSec.fuzz.toFixed(1)} s)`,
    `I/Os: ${s.ios.reads + s.ios.writes} (reads ${s.ios.reads}, writes ${s.ios.writes}; ok ${s.ios.ok}, failed ${s.ios.failed}, lost in flight ${s.ios.lost})`,
    `blocks verified against acknowledged writes: ${s.ios.blocksVerified}`,
    `faults injected (failures caused or - / armed): ${faults}`,
    `connects refused under a fault: ${s.refusedConnects}`,
    `races explored: ${s.racesExplored}`,
    `inputs fuzzed: ${s.inputsFuzzed}`,
    `acknowledged writes lost: ${s.ackedWritesLost}`,
    `acknowledged blocks unreachable (device removed by a fault, not checked): ${s.unreachableBlocks}`,
    `crashes: ${s.crashes}`,
    `invariant violations: ${s.violations}`,
    ...s.details.map((d) => `  ${d}`),
    `elapsed: ${s.elapsedSec.toFixed(1)} s`,
    `result: ${soakExitCode(s) === SOAK_EXIT_OK ? 'PASS' : 'FAIL'}`,
  ];
  return `${lines.join('\n')}\n`;
}

/** Parsed command line. */
export interface SoakArgs {
  /** Seed. */
  readonly seed: number;
  /** Seconds. */
  readonly durationSec: number;
  /** Print JSON. */
  readonly json: boolean;
  /** Print usage. */
  readonly help: boolean;
  /** Fault sources. */
  readonly faults: readonly SoakFaultSource[];
}

/** Usage text. */
export const SOAK_USAGE = `usage: soak [--seed N] [--duration S] [--json]
  --seed N       seed of every random choice (integer 0..${2 ** 32 - 1}, default ${SOAK_DEFAULTS.seed})
  --duration S   seconds to run (0 < S <= ${SOAK_MAX_DURATION_S}, default ${SOAK_DEFAULTS.durationSec})
  --faults F     fault sources: all (default), kernel (allocation sites only) or testbed (device faults only)
  --json         print the summary as JSON
`;

/**
 * Parses the command line.
 * @param argv arguments after the program name.
 * @returns the options, or `{ error }` with one line naming the argument.
 */
export function parseSoakArgs(argv: readonly string[]): SoakArgs | { error: string } {
  let seed: number = SOAK_DEFAULTS.seed;
  let durationSec: number = SOAK_DEFAULTS.durationSec;
  let json = false;
  let help = false;
  let faults: readonly SoakFaultSource[] = SOAK_FAULT_SOURCES;
  const show = (v: string) => JSON.stringify(v);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const name = eq > 0 ? a.slice(0, eq) : a;
    const takeValue = (): string | { error: string } => {
      if (eq > 0) return a.slice(eq + 1);
      const v = argv[i + 1];
      if (v === undefined) return { error: `soak: ${name} needs a value` };
      i++;
      return v;
    };
    if (name === '--json' || name === '--help' || name === '-h') {
      if (eq > 0) return { error: `soak: ${name} takes no value` };
      if (name === '--json') json = true;
      else help = true;
    } else if (name === '--seed') {
      const v = takeValue();
      if (typeof v !== 'string') return v;
      if (!/^\d{1,10}$/.test(v) || Number(v) > 2 ** 32 - 1) return { error: `soak: --seed ${show(v)}: expected an integer 0..${2 ** 32 - 1}` };
      seed = Number(v);
    } else if (name === '--duration') {
      const v = takeValue();
      if (typeof v !== 'string') return v;
      const d = /^\d+(\.\d+)?$/.test(v) ? Number(v) : Number.NaN;
      if (!(d > 0 && d <= SOAK_MAX_DURATION_S)) return { error: `soak: --duration ${show(v)}: expected seconds, more than 0 and at most ${SOAK_MAX_DURATION_S}` };
      durationSec = d;
    } else if (name === '--faults') {
      const v = takeValue();
      if (typeof v !== 'string') return v;
      const table: Readonly<Record<string, readonly SoakFaultSource[]>> = { all: SOAK_FAULT_SOURCES, kernel: ['kernel'], testbed: ['testbed'] };
      const f = Object.hasOwn(table, v) ? table[v] : undefined;
      if (f === undefined) return { error: `soak: --faults ${show(v)}: expected all, kernel or testbed` };
      faults = f;
    } else return { error: `soak: unknown argument ${show(a)} (see --help)` };
  }
  return { seed, durationSec, json, help, faults };
}

/** Where the program writes. */
export interface SoakIo {
  /** Standard output. */
  out(s: string): void;
  /** Standard error. */
  err(s: string): void;
}

/**
 * The program: parse, run, print.
 * @param argv arguments after the program name.
 * @param io output.
 * @param now milliseconds clock (default `performance.now`).
 * @returns the exit status.
 */
export function soakMain(argv: readonly string[], io: SoakIo, now?: () => number): number {
  const a = parseSoakArgs(argv);
  if ('error' in a) {
    io.err(`${a.error}\n`);
    return SOAK_EXIT_USAGE;
  }
  if (a.help) {
    io.out(SOAK_USAGE);
    return SOAK_EXIT_OK;
  }
  const s = runSoak({ seed: a.seed, durationSec: a.durationSec, faults: a.faults, ...(now !== undefined ? { now } : {}) });
  io.out(a.json ? `${JSON.stringify({ ...s, exitCode: soakExitCode(s) }, null, 2)}\n` : formatSoakSummary(s));
  return soakExitCode(s);
}

// Runs only when node was started on this file (not when a test imports it).
runIfEntryPoint(import.meta.url, soakMain);
