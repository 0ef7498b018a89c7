/**
 * The cmb-copy example as a library: the copy runs and the report. The DRAM data/command split and
 * the data set they use are `@p2pdma/cli`'s (`DramSplitTap`, `seededDataSet`, `firstDifference`).
 * The program is `main.ts` (`node dist/main.js`).
 */
export type { CmbCopyHookContext, CmbCopyLink, CmbCopyOptions, CmbCopyResult, CmbCopyRun, CmbCopyStaging } from './cmb-copy';
export {
  CMB_COPY_CHUNK_BYTES,
  CMB_COPY_DESTINATION,
  CMB_COPY_POLICIES,
  CMB_COPY_SOURCE,
  CMB_COPY_STAGINGS,
  CMB_COPY_TOPOLOGY,
  checkCmbCopyOptions,
  DEFAULT_CMB_COPY_SEED,
  DEFAULT_CMB_COPY_SIZE,
  MAX_CMB_COPY_SIZE,
  runCmbCopy,
} from './cmb-copy';
export { CMB_REACH } from './cmb-reach';
export type { MainIo } from './main';
export { EXIT_FAILED, EXIT_OK, EXIT_USAGE, main, parseSize, USAGE } from './main';
export { CMB_COPY_JSON_SCHEMA, cmbCopyJson, renderCmbCopy } from './report';
