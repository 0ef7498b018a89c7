/**
 * `check`, `find`, `matrix` and `iommu-groups`: thin shells over p2pdma's `checkP2p`, `findP2p`
 * and `p2pMatrix` and pci-core's IOMMU groups. The rules live in those packages; these functions
 * only add the schema tag and render text.
 */
import { type CheckP2pReport, checkP2p, type FindP2pReport, findP2p, type P2pMatrixReport, type P2pQueryOptions, p2pMatrix } from '@p2pdma/p2pdma';
import { computeIommuGroups, type IommuGroupInfo, type TopologySpec } from '@p2pdma/pci-core';
import { UsageError } from '../args';
import { type CpuJson, renderCpuLine } from '../cpu';
import { bootMachine } from '../machine';

/** JSON schema identifiers of the query commands. */
export const QUERY_JSON_SCHEMAS = {
  check: 'p2pdma-cli/check/v1',
  find: 'p2pdma-cli/find/v1',
  matrix: 'p2pdma-cli/matrix/v1',
  iommuGroups: 'p2pdma-cli/iommu-groups/v1',
} as const;

/** `check --json`: p2pdma's report plus the schema tag and (from the command) the CPU the AMD rule saw. */
export type CheckJson = Omit<CheckP2pReport, 'ok'> & { schema: typeof QUERY_JSON_SCHEMAS.check; cpu?: CpuJson };
/** `find --json`. */
export type FindJson = Omit<FindP2pReport, 'ok'> & { schema: typeof QUERY_JSON_SCHEMAS.find; cpu?: CpuJson };
/** `matrix --json`. */
export type MatrixJson = Omit<P2pMatrixReport, 'ok'> & { schema: typeof QUERY_JSON_SCHEMAS.matrix; cpu?: CpuJson };

/** The schema tag and, when known, the CPU, ahead of the library's report. */
function head<S extends string>(schema: S, cpu: CpuJson | undefined): { schema: S; cpu?: CpuJson } {
  return cpu === undefined ? { schema } : { schema, cpu };
}

/**
 * Run `check`.
 * @param spec the topology
 * @param provider the provider BDF
 * @param clients the client BDFs
 * @param opts policy, IOMMU, command line
 * @param cpu the CPU the topology's `cpu` stands for and where it came from (reported as is; the
 *   rules read `spec.cpu`); omitted from the report when not given
 * @returns the report
 * @throws UsageError naming a bad BDF or topology
 */
export function runCheck(spec: TopologySpec, provider: string, clients: readonly string[], opts: P2pQueryOptions, cpu?: CpuJson): CheckJson {
  const r = checkP2p(spec, { ...queryOptions(opts), provider, clients });
  if (!r.ok) throw new UsageError(r.error);
  const { ok: _ok, ...rest } = r;
  return { ...head(QUERY_JSON_SCHEMAS.check, cpu), ...rest };
}

/** Only the library's query options (a caller may pass a larger object). */
function queryOptions(o: P2pQueryOptions): P2pQueryOptions {
  return {
    ...(o.policy !== undefined ? { policy: o.policy } : {}),
    ...(o.iommu !== undefined ? { iommu: o.iommu } : {}),
    ...(o.cmdline !== undefined ? { cmdline: o.cmdline } : {}),
    ...(o.seed !== undefined ? { seed: o.seed } : {}),
  };
}

/**
 * Render a `check` report.
 * @param r the report
 * @returns text, newline-terminated
 */
export function renderCheck(r: CheckJson): string {
  const out = [`provider ${r.provider} (policy ${r.policy})`];
  if (r.cpu) out.push(renderCpuLine(r.cpu));
  for (const c of r.clients) {
    out.push(`client ${c.client}: ${c.mapType}${c.distance !== null ? `, distance ${c.distance}` : ''}`);
    out.push(`  path: ${c.path.join(' → ')}`);
    if (c.acsRedirect.length) out.push(`  ACS redirect on: ${c.acsRedirect.join(', ')}`);
    out.push(`  why: ${c.reason}`);
    if (c.fix) out.push(`  fix: ${c.fix}`);
  }
  out.push(`verdict: ${r.supported ? 'supported' : 'NOT supported'}${r.totalDistance !== null ? ` (total distance ${r.totalDistance})` : ''}`);
  for (const w of r.warnings) out.push(`kernel: ${w}`);
  return `${out.join('\n')}\n`;
}

/**
 * Run `find`.
 * @param spec the topology
 * @param clients the client BDFs
 * @param providers candidate providers (undefined: those the topology says publish p2pmem)
 * @param opts policy, IOMMU, command line, seed
 * @param cpu the CPU and where it came from, reported as is (omitted when not given)
 * @returns the report
 * @throws UsageError naming a bad BDF or topology
 */
export function runFind(spec: TopologySpec, clients: readonly string[], providers: readonly string[] | undefined, opts: P2pQueryOptions, cpu?: CpuJson): FindJson {
  const r = findP2p(spec, clients, providers, queryOptions(opts));
  if (!r.ok) throw new UsageError(r.error);
  const { ok: _ok, ...rest } = r;
  return { ...head(QUERY_JSON_SCHEMAS.find, cpu), ...rest };
}

/**
 * Render a `find` report.
 * @param r the report
 * @returns text, newline-terminated
 */
export function renderFind(r: FindJson): string {
  const out = [`clients ${r.clients.join(', ')} (policy ${r.policy})`];
  if (r.cpu) out.push(renderCpuLine(r.cpu));
  if (r.candidates.length === 0) out.push('no provider candidates (name them with --provider)');
  for (const c of r.candidates) out.push(`  ${c.provider}: ${c.supported ? 'supported' : 'not supported'}${c.totalDistance !== null ? `, total distance ${c.totalDistance}` : ''}`);
  if (r.closest.length > 1) out.push(`equally close: ${r.closest.join(', ')} (the kernel picks one at random)`);
  out.push(r.chosen ? `chosen: ${r.chosen}` : 'chosen: none (no supported provider)');
  return `${out.join('\n')}\n`;
}

/**
 * Run `matrix`.
 * @param spec the topology
 * @param endpoints the BDFs to include (undefined: every endpoint)
 * @param opts policy, IOMMU, command line
 * @param cpu the CPU and where it came from, reported as is (omitted when not given)
 * @returns the matrix
 * @throws UsageError naming a bad BDF or topology
 */
export function runMatrix(spec: TopologySpec, endpoints: readonly string[] | undefined, opts: P2pQueryOptions, cpu?: CpuJson): MatrixJson {
  const r = p2pMatrix(spec, endpoints, queryOptions(opts));
  if (!r.ok) throw new UsageError(r.error);
  const { ok: _ok, ...rest } = r;
  return { ...head(QUERY_JSON_SCHEMAS.matrix, cpu), ...rest };
}

const CELL_CODE: Record<string, string> = { 'bus-addr': 'B', 'thru-host-bridge': 'H', 'not-supported': 'X' };

/**
 * Render the matrix like `nvidia-smi topo -m`: rows are providers, columns clients.
 * @param r the matrix
 * @returns text with a legend, newline-terminated
 */
export function renderMatrix(r: MatrixJson): string {
  const short = (b: string) => b.replace(/^0000:/, '');
  const names = r.endpoints.map(short);
  const w = Math.max(4, ...names.map((n) => n.length)) + 1;
  const cellText = (i: number, j: number) => {
    if (i === j) return 'self';
    const c = r.cells[i]![j]!;
    return `${CELL_CODE[c.mapType] ?? '?'}${c.distance !== null && c.mapType !== 'not-supported' ? c.distance : ''}`;
  };
  const cw = Math.max(5, ...r.endpoints.flatMap((_, i) => r.endpoints.map((__, j) => cellText(i, j).length))) + 1;
  const lines = [`${'provider\\client'.padEnd(w)}${names.map((n) => n.padStart(Math.max(cw, n.length + 1))).join('')}`];
  r.endpoints.forEach((_, i) => {
    lines.push(`${names[i]!.padEnd(w)}${r.endpoints.map((__, j) => cellText(i, j).padStart(Math.max(cw, names[j]!.length + 1))).join('')}`);
  });
  if (r.cpu) lines.push('', renderCpuLine(r.cpu));
  lines.push('', `legend (policy ${r.policy}):`, '  B<n>  bus address: peer-to-peer below a common switch, distance n', '  H<n>  through the host bridge (supported: whitelisted or AMD Zen), distance n', '  X     not supported', '  self  the same function');
  return `${lines.join('\n')}\n`;
}

/** `iommu-groups --json`. */
export interface IommuGroupsJson {
  schema: typeof QUERY_JSON_SCHEMAS.iommuGroups;
  /** Groups with the IOMMU on and the kernel's normal ACS enable (upstream rules). */
  upstream: IommuGroupInfo[];
  /** Groups with the IOMMU on after the seed's patch 04 cleared ACS behind switches (v2). */
  v2: IommuGroupInfo[];
}

/**
 * Run `iommu-groups`: the groups with ACS on (IOMMU on, upstream rules), and what the seed's ACS
 * clearing (v2) makes of them.
 * @param spec the topology
 * @param cmdline kernel command line (e.g. `pci=disable_acs_redir=...`)
 * @returns both sets of groups
 * @throws UsageError when the topology cannot be enumerated
 */
export function runIommuGroups(spec: TopologySpec, cmdline: string | undefined): IommuGroupsJson {
  const groupsOf = (policy: 'v2' | 'upstream') => {
    const m = bootMachine(spec, { policy, iommu: true, ...(cmdline !== undefined ? { cmdline } : {}) });
    return m.kernel.iommu.enabled ? m.pci.iommuGroups() : computeIommuGroups(m.pci);
  };
  return { schema: QUERY_JSON_SCHEMAS.iommuGroups, upstream: groupsOf('upstream'), v2: groupsOf('v2') };
}

/**
 * Render both sets of IOMMU groups.
 * @param r the groups
 * @returns text, newline-terminated
 */
export function renderIommuGroups(r: IommuGroupsJson): string {
  const block = (title: string, gs: IommuGroupInfo[]) => [title, ...gs.map((g) => `  group ${g.id}: ${g.devices.join(' ')}`)];
  return `${[
    ...block(`IOMMU on, ACS enabled by the kernel (${r.upstream.length} groups):`, r.upstream),
    '',
    ...block(`IOMMU on, after the seed's ACS clearing behind switches (policy v2, ${r.v2.length} groups):`, r.v2),
  ].join('\n')}\n`;
}
