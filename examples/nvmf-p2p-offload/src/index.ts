/**
 * The nvmf-p2p-offload example as a library: the runs and the report. The DRAM data/command split and
 * the data set they use are `@p2pdma/cli`'s (`DramSplitTap`, `seededDataSet`, `firstDifference`).
 * The program is `main.ts` (`node dist/main.js`).
 */
export type { MediaRates } from './device-rates';
export { BAR_RATES, MEDIA_RATES, NIC_RATES, pciIdKey, rateOf } from './device-rates';
export type { MainIo } from './main';
export { EXIT_FAILED, EXIT_OK, EXIT_USAGE, main, parseSize, USAGE } from './main';
export type { OffloadBusiestLink, OffloadHookContext, OffloadOptions, OffloadPhaseBytes, OffloadResult, OffloadRow } from './offload';
export {
  checkOffloadOptions,
  DEFAULT_OFFLOAD_SEED,
  DEFAULT_OFFLOAD_SIZE,
  MAX_OFFLOAD_SIZE,
  OFFLOAD_IO_BYTES,
  OFFLOAD_LBA_BYTES,
  OFFLOAD_POLICIES,
  OFFLOAD_TOPOLOGY,
  runOffloadExample,
} from './offload';
export { OFFLOAD_JSON_SCHEMA, offloadJson, renderOffloadTable } from './report';
