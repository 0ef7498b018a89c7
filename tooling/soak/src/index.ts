/**
 * @p2pdma/soak: issue 9's reliability tooling as a library: hostile-input drivers, races on the
 * virtual clock, fault kinds, the write ledger, leak accounting and the soak program. The
 * fixed-seed tests and `pnpm soak` both use it. Hand-curated public API; see README.md.
 */
export { configfsSnapshot, SNAPSHOT_MAX_ENTRIES, snapshotDiff } from './configfs-snapshot';
export type { SoakFaultKind, SoakFaultSource } from './faults';
export { kernelFaultKind, SOAK_FAULT_KINDS, SOAK_FAULT_MAX_NTH, SOAK_FAULT_MAX_TIMES, testbedFaultKind } from './faults';
export type { ConfigfsOp, ConfigfsSession, FuzzBatchResult, FuzzContext, FuzzKind, Json, JsonOp, NvmetcliInput } from './fuzz';
export {
  applyJsonOps,
  CLI_FUZZ,
  cliArgvArb,
  CONFIGFS_FUZZ,
  configfsOpArb,
  createFuzzContext,
  FUZZ_KINDS,
  FUZZ_TIME_LIMIT_MS,
  fuzzTestbed,
  HOSTILE_NQNS,
  HOSTILE_VALUES,
  LSPCI_FUZZ,
  NVMETCLI_FUZZ,
  runFuzzBatch,
  SHOW_REGS_FUZZ,
  TOPOLOGY_JSON_FUZZ,
} from './fuzz';
export type { IoCounts, IoOutcome } from './io-ledger';
export { patternFor, WriteLedger } from './io-ledger';
export type { LeakBaseline } from './leaks';
export { checkLeaks, leakBaseline } from './leaks';
export type { RaceAction, RaceCtx, RaceDef, RacePin, RaceRunResult } from './races';
export {
  KERNEL_LINES,
  RACE_BATCH_IOS,
  RACE_HANG_MARGIN_NS,
  RACE_IO_TIMEOUT_NS,
  RACE_NAMESPACE_BYTES,
  RACE_SETTLE_NS,
  RACE_SLOT_BLOCKS,
  RACE_STEP_RANGE,
  RACES,
  runRace,
} from './races';
export type { SoakArgs, SoakIo, SoakOptions, SoakRoundKind, SoakSummary } from './soak';
export {
  formatSoakSummary,
  parseSoakArgs,
  runSoak,
  SOAK_DEFAULTS,
  SOAK_EXIT_FAILED,
  SOAK_EXIT_OK,
  SOAK_EXIT_USAGE,
  SOAK_FAULT_CHANCE,
  SOAK_FAULT_SOURCES,
  SOAK_FUZZ_BATCH,
  SOAK_LARGE_IO,
  SOAK_MAX_DURATION_S,
  SOAK_RECONNECT_CHANCE,
  SOAK_ROUNDS_PER_TESTBED,
  SOAK_TESTBEDS,
  SOAK_ROUND_CYCLE,
  SOAK_USAGE,
  SOAK_VERIFY_EVERY,
  SOAK_WORKLOAD_IOS,
  soakExitCode,
  soakMain,
} from './soak';
