/**
 * @p2pdma/cli: the `p2pdma` command as a library. `main(argv, io)` runs it; the command modules
 * build their JSON objects from the packages below and render them as text.
 */
export type { OptionSpec, ParsedArgs } from './args';
export { parseArgs, UsageError } from './args';
export type { CheckJson, FindJson, IommuGroupsJson, MatrixJson } from './commands/query';
export { QUERY_JSON_SCHEMAS, renderCheck, renderFind, renderIommuGroups, renderMatrix, runCheck, runFind, runIommuGroups, runMatrix } from './commands/query';
export { renderSvg } from './commands/render';
export type { RouteJson, RouteRequest } from './commands/route';
export { renderRoute, ROUTE_JSON_SCHEMA, routeDma } from './commands/route';
export type { TopologyJson, TopologyJsonDevice } from './commands/topology';
export { renderTopology, TOPOLOGY_JSON_SCHEMA, topologyJson } from './commands/topology';
export type { CpuChoice, CpuJson, CpuProbe, CpuSource, ResolvedCpu } from './cpu';
export { inferCpu, renderCpuLine, resolveCpu } from './cpu';
export { firstDifference, seededDataSet } from './data-set';
export type { DramSplit } from './dram-split';
export { DramSplitTap, dramSplitDiff, ZERO_DRAM_SPLIT } from './dram-split';
export type { AcsState } from './format';
export { acsStateOf, humanBytes, idsOf, PORT_TYPE_NAMES, portTypeName } from './format';
export type { LoadedTopology } from './input';
export { loadTopology } from './input';
export type { BootOptions, Machine } from './machine';
export { bootMachine } from './machine';
export type { CliIo } from './main';
export { EXIT_NO, EXIT_OK, EXIT_USAGE, main, USAGE } from './main';
export type { ProgramIo, ProgramOptionParser, ProgramRunOptions, ProgramSpec } from './program';
export { isEntryPoint, parseSize, runIfEntryPoint, runProgram } from './program';
export type { ProgressSink } from './progress';
export { PROGRESS_CELLS, PROGRESS_DELAY_MS, ProgressBar } from './progress';
export type { BottleneckResult, FabricRates, PerfResource, PerfResourceResult } from './perf-model';
export {
  bottleneck,
  DEFAULT_MPS,
  defaultFabricRates,
  deviceResource,
  effectiveLinkBytesPerSec,
  resourcesFromCounters,
  rootComplexRates,
  TLP_OVERHEAD_BYTES,
  tlpEfficiency,
} from './perf-model';
export type { DeviceRate, DeviceRateName, ForwardingRate, PerfResourceKind } from './perf-rates';
export { DEVICE_RATES, GB_PER_SEC, ROOT_COMPLEX_FORWARDING_RATES } from './perf-rates';
export type {
  Scenario,
  ScenarioLinkBytes,
  ScenarioOptions,
  ScenarioPhaseBytes,
  ScenarioPlacementName,
  ScenarioPlacementReport,
  ScenarioProgress,
  ScenarioReport,
  ScenarioTarget,
} from './scenario';
export {
  BUILTIN_SCENARIOS,
  DEFAULT_SCENARIO_IO_BYTES,
  DEFAULT_SCENARIO_IOS,
  MAX_SCENARIO_DATA_BYTES,
  MAX_SCENARIO_QUEUE_DEPTH,
  runScenario,
  SCENARIO_PLACEMENT_NAMES,
  scenarioByName,
  SIMULATE_JSON_SCHEMA,
} from './scenario';
export type { ScenarioFile, ScenarioFileResult } from './scenario-file';
export { loadScenarioFile, parseScenarioFile, SCENARIO_FILE_DEFAULTS, SCENARIO_FILE_SCHEMA } from './scenario-file';
export { renderSimulate, runSimulate } from './commands/simulate';
