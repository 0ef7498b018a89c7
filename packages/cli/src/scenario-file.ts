/**
 * Scenario files (`p2pdma simulate <file.json>`, schema {@link SCENARIO_FILE_SCHEMA}): a JSON
 * object naming a topology (a built-in, a topology JSON or lspci file relative to the scenario
 * file, or an inline topology), the target configuration (RNIC, drive and card BDFs, the
 * placements, the namespace size, the policy) and a workload (I/O size, count, read percentage,
 * queue depth, seed). It maps onto {@link runScenario}'s {@link Scenario} and
 * {@link ScenarioOptions}; every problem is reported as `<file>: <JSON path>: <reason>`.
 *
 * @kernel — (drives nvmet's testbed through `runScenario`)
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, extname, resolve } from 'node:path';
import type { P2pdmaPolicy } from '@p2pdma/kernel';
import type { NvmetPlacement } from '@p2pdma/nvmet';
import { normalizeBdf, parseTopologyJson, type TopologySpec, validateTopologySpec } from '@p2pdma/pci-core';
import { UsageError } from './args';
import { type LoadedTopology, loadTopology } from './input';
import {
  DEFAULT_SCENARIO_IO_BYTES,
  DEFAULT_SCENARIO_IOS,
  MAX_SCENARIO_DATA_BYTES,
  MAX_SCENARIO_QUEUE_DEPTH,
  SCENARIO_PLACEMENT_NAMES,
  type Scenario,
  type ScenarioOptions,
  type ScenarioPlacementName,
  type ScenarioTarget,
} from './scenario';

/** Schema tag a scenario file must carry. */
export const SCENARIO_FILE_SCHEMA = 'p2pdma-cli/scenario/v1';

/** Logical block size the workload's sizes are multiples of. */
const LBA_BYTES = 512;
/** Largest seed (the kernel RNG and the data set take 32 bits). */
const MAX_SEED = 0xffff_ffff;

/** Defaults of a file's workload: 128 I/Os, half of them reads: the built-in's 64 writes then 64 reads. */
export const SCENARIO_FILE_DEFAULTS = {
  ioBytes: DEFAULT_SCENARIO_IO_BYTES,
  count: 2 * DEFAULT_SCENARIO_IOS,
  readPercent: 50,
  queueDepth: 1,
  seed: 1,
} as const;

/** The keys each object of the file may have. */
const KEYS: Readonly<Record<string, readonly string[]>> = {
  $: ['schema', 'name', 'description', 'topology', 'target', 'workload'],
  '$.target': ['rnic', 'drive', 'card', 'placements', 'namespaceBytes', 'policy'],
  '$.workload': ['ioBytes', 'count', 'readPercent', 'queueDepth', 'seed'],
};

/** Placement names a file may list, by the testbed's placement. */
const PLACEMENT_BY_NAME: ReadonlyMap<ScenarioPlacementName, NvmetPlacement> = new Map(
  (Object.entries(SCENARIO_PLACEMENT_NAMES) as Array<[NvmetPlacement, ScenarioPlacementName]>).map(([p, n]) => [n, p]),
);
const POLICIES: readonly P2pdmaPolicy[] = ['upstream', 'v2'];

/** A parsed scenario file: what to pass to {@link runScenario}. */
export interface ScenarioFile {
  /** The scenario (topology resolved and validated). */
  readonly scenario: Scenario;
  /** Policy (when the file names one), I/O size, writes, reads, queue depth, seed. */
  readonly options: Omit<ScenarioOptions, 'onProgress'>;
}

/** {@link parseScenarioFile}'s result: the scenario, or the first error (and how many there were). */
export type ScenarioFileResult = { ok: true; file: ScenarioFile } | { ok: false; error: string };

/** Collects `<path>: <reason>` errors. */
class Problems {
  readonly list: string[] = [];
  add(path: string, reason: string): void {
    this.list.push(`${path}: ${reason}`);
  }
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function typeName(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'an array';
  return typeof v === 'object' ? 'an object' : `${typeof v} ${JSON.stringify(v)}`;
}

function checkKeys(p: Problems, path: string, o: Record<string, unknown>): void {
  const allowed = KEYS[path]!;
  for (const k of Object.keys(o)) if (!allowed.includes(k)) p.add(`${path}.${k}`, `unknown key (expected one of ${allowed.join(', ')})`);
}

/** An optional integer in [min, max] that is a multiple of `step`; `undefined` when absent or bad (bad ones are recorded). */
function optInt(p: Problems, path: string, v: unknown, what: { min: number; max: number; step?: number; words: string }): number | undefined {
  if (v === undefined) return undefined;
  const step = what.step ?? 1;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < what.min || v > what.max || v % step !== 0) {
    p.add(path, `must be ${what.words} (got ${typeName(v)})`);
    return undefined;
  }
  return v;
}

function optString(p: Problems, path: string, v: unknown): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v !== 'string' || v.length === 0) {
    p.add(path, `must be a non-empty string (got ${typeName(v)})`);
    return undefined;
  }
  return v;
}

/** JSON.parse; on a syntax error, pci-core's JSON reader (shared with topology files) locates the fault's line and column. */
function parseJson(text: string, file: string): { value: unknown } | { error: string } {
  try {
    return { value: JSON.parse(text) };
  } catch (e) {
    const located = parseTopologyJson(text, file);
    const first = located.ok ? undefined : located.errors[0];
    return { error: first?.message ?? `invalid JSON: ${e instanceof Error ? e.message : String(e)}` };
  }
}

/**
 * Resolve `$.topology`: `builtin:<name>`, a file path relative to the scenario file, or an inline topology.
 * @returns the topology for the testbed and how the report names it, or `undefined` (problem recorded)
 */
function topologyOf(p: Problems, v: unknown, baseDir: string): { topology: string | TopologySpec; label: string; spec: TopologySpec } | undefined {
  if (v === undefined) {
    p.add('$.topology', "missing (a 'builtin:<name>', a topology JSON or lspci file relative to the scenario file, or an inline topology object)");
    return undefined;
  }
  if (isObject(v)) {
    const r = validateTopologySpec(v);
    if (!r.ok) {
      for (const e of r.errors) p.add(`$.topology${e.path.slice(1)}`, e.message);
      return undefined;
    }
    return { topology: r.spec, label: r.spec.name ?? 'inline topology', spec: r.spec };
  }
  if (typeof v !== 'string' || v.length === 0) {
    p.add('$.topology', `must be 'builtin:<name>', a file path or a topology object (got ${typeName(v)})`);
    return undefined;
  }
  let loaded: LoadedTopology;
  try {
    loaded = loadTopology(v.startsWith('builtin:') ? v : resolve(baseDir, v));
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    p.add('$.topology', e.message);
    return undefined;
  }
  if (loaded.format === 'builtin') return { topology: v.slice('builtin:'.length), label: v.slice('builtin:'.length), spec: loaded.spec };
  return { topology: loaded.spec, label: v, spec: loaded.spec };
}

/** `$.target`: BDFs that exist in the topology, placements, namespace size, policy. */
function targetOf(p: Problems, v: unknown, spec: TopologySpec | undefined): { target: ScenarioTarget; placements: NvmetPlacement[]; policy?: P2pdmaPolicy } {
  const out: { target: ScenarioTarget; placements: NvmetPlacement[]; policy?: P2pdmaPolicy } = { target: {}, placements: [...PLACEMENT_BY_NAME.values()] };
  if (v === undefined) return out;
  if (!isObject(v)) {
    p.add('$.target', `must be an object (got ${typeName(v)})`);
    return out;
  }
  checkKeys(p, '$.target', v);
  const functions = new Set(spec?.devices.map((d) => d.bdf) ?? []);
  const target: { -readonly [K in keyof ScenarioTarget]: ScenarioTarget[K] } = {};
  for (const role of ['rnic', 'drive', 'card'] as const) {
    const raw = optString(p, `$.target.${role}`, v[role]);
    if (raw === undefined) continue;
    const bdf = normalizeBdf(raw);
    if (bdf === null) p.add(`$.target.${role}`, `'${raw}' is not a PCI address (expected [dddd:]bb:dd.f)`);
    else if (spec !== undefined && !functions.has(bdf)) p.add(`$.target.${role}`, `no function ${bdf} in the topology`);
    else target[role] = bdf;
  }
  const ns = optInt(p, '$.target.namespaceBytes', v['namespaceBytes'], { min: LBA_BYTES, max: Number.MAX_SAFE_INTEGER, step: LBA_BYTES, words: 'a positive multiple of 512' });
  if (ns !== undefined) target.namespaceBytes = ns;
  out.target = target;
  const pl = v['placements'];
  if (pl !== undefined) {
    if (!Array.isArray(pl) || pl.length === 0) p.add('$.target.placements', `must be a non-empty array of ${[...PLACEMENT_BY_NAME.keys()].join(', ')} (got ${typeName(pl)})`);
    else {
      const seen = new Set<NvmetPlacement>();
      pl.forEach((name, i) => {
        const placement = typeof name === 'string' ? PLACEMENT_BY_NAME.get(name as ScenarioPlacementName) : undefined;
        if (placement === undefined) p.add(`$.target.placements[${i}]`, `must be one of ${[...PLACEMENT_BY_NAME.keys()].join(', ')} (got ${typeName(name)})`);
        else if (seen.has(placement)) p.add(`$.target.placements[${i}]`, `'${name}' is listed twice`);
        else seen.add(placement);
      });
      out.placements = [...seen];
    }
  }
  const policy = v['policy'];
  if (policy !== undefined) {
    if (typeof policy === 'string' && (POLICIES as readonly string[]).includes(policy)) out.policy = policy as P2pdmaPolicy;
    else p.add('$.target.policy', `must be one of ${POLICIES.join(', ')} (got ${typeName(policy)})`);
  }
  return out;
}

/** `$.workload`, with the defaults, as runScenario's writes, reads, queue depth and seed. */
function workloadOf(p: Problems, v: unknown): { ioBytes: number; ios: number; reads: number; queueDepth: number; seed: number } {
  const d = SCENARIO_FILE_DEFAULTS;
  let w: Record<string, unknown> = {};
  if (v !== undefined) {
    if (!isObject(v)) p.add('$.workload', `must be an object (got ${typeName(v)})`);
    else {
      checkKeys(p, '$.workload', v);
      w = v;
    }
  }
  const ioBytes = optInt(p, '$.workload.ioBytes', w['ioBytes'], { min: LBA_BYTES, max: MAX_SCENARIO_DATA_BYTES, step: LBA_BYTES, words: 'a positive multiple of 512' }) ?? d.ioBytes;
  const count = optInt(p, '$.workload.count', w['count'], { min: 1, max: Number.MAX_SAFE_INTEGER, words: 'a positive integer' }) ?? d.count;
  const queueDepth = optInt(p, '$.workload.queueDepth', w['queueDepth'], { min: 1, max: MAX_SCENARIO_QUEUE_DEPTH, words: `an integer from 1 to ${MAX_SCENARIO_QUEUE_DEPTH}` }) ?? d.queueDepth;
  const seed = optInt(p, '$.workload.seed', w['seed'], { min: 0, max: MAX_SEED, words: `an integer from 0 to ${MAX_SEED}` }) ?? d.seed;
  let readPercent: number = d.readPercent;
  const rp = w['readPercent'];
  if (rp !== undefined) {
    if (typeof rp !== 'number' || !Number.isFinite(rp) || rp < 0 || rp >= 100) p.add('$.workload.readPercent', `must be a number from 0 to less than 100: reads check bytes written in the same run (got ${typeName(rp)})`);
    else readPercent = rp;
  }
  const reads = Math.round((count * readPercent) / 100);
  const ios = count - reads;
  if (ios === 0) p.add('$.workload.readPercent', `${readPercent}% of ${count} I/Os leaves no write: reads check bytes written in the same run`);
  else if (ioBytes * ios > MAX_SCENARIO_DATA_BYTES) p.add('$.workload', `the writes (${ios} × ${ioBytes} bytes) exceed ${MAX_SCENARIO_DATA_BYTES} bytes`);
  return { ioBytes, ios, reads, queueDepth, seed };
}

/**
 * Parse and validate a scenario file's text.
 * @param text the file's content
 * @param file the file's name as the user gave it (named in every error)
 * @param baseDir the folder relative topology paths are resolved from (the file's folder)
 * @returns the scenario and options, or the first error as `<file>: <JSON path>: <reason>`
 *   (with `(and N more problems)` when there are several); nothing is run
 */
export function parseScenarioFile(text: string, file: string, baseDir: string): ScenarioFileResult {
  const parsed = parseJson(text, file);
  if ('error' in parsed) return { ok: false, error: `${file}: ${parsed.error}` };
  const v = parsed.value;
  const p = new Problems();
  if (!isObject(v)) return { ok: false, error: `${file}: $: must be a scenario object (got ${typeName(v)})` };
  checkKeys(p, '$', v);
  if (v['schema'] !== SCENARIO_FILE_SCHEMA) p.add('$.schema', `must be '${SCENARIO_FILE_SCHEMA}' (got ${v['schema'] === undefined ? 'nothing' : typeName(v['schema'])})`);
  const name = optString(p, '$.name', v['name']) ?? basename(file, extname(file));
  const description = optString(p, '$.description', v['description']) ?? `scenario file ${file}`;
  const topo = topologyOf(p, v['topology'], baseDir);
  const target = targetOf(p, v['target'], topo?.spec);
  const work = workloadOf(p, v['workload']);
  const ns = target.target.namespaceBytes;
  if (ns !== undefined && ns < work.ioBytes * work.ios) p.add('$.target.namespaceBytes', `${ns} bytes cannot hold the ${work.ioBytes * work.ios} bytes written (${work.ios} writes × ${work.ioBytes})`);
  if (p.list.length > 0 || topo === undefined) {
    const more = p.list.length - 1;
    return { ok: false, error: `${file}: ${p.list[0] ?? '$.topology: invalid'}${more > 0 ? ` (and ${more} more problem${more === 1 ? '' : 's'})` : ''}` };
  }
  const scenario: Scenario = { name, description, topology: topo.topology, topologyLabel: topo.label, placements: target.placements, target: target.target };
  return { ok: true, file: { scenario, options: { ...(target.policy !== undefined ? { policy: target.policy } : {}), ...work } } };
}

/**
 * Read and validate a scenario file; relative topology paths are resolved from its folder.
 * @param path the file
 * @returns as {@link parseScenarioFile}; an unreadable file is an error naming it and why
 */
export function loadScenarioFile(path: string): ScenarioFileResult {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : String(code ?? e);
    return { ok: false, error: `cannot read '${path}': ${why}` };
  }
  return parseScenarioFile(text, path, dirname(resolve(path)));
}
