/**
 * Hostile-input drivers (issue 9): for each input kind, a fast-check arbitrary of hostile inputs
 * (random values plus mutations of real-looking inputs) and a contract check. The fixed-seed
 * tests run them with `fc.assert`; the soak program samples batches with `runFuzzBatch`.
 *
 * The contract, per input: it loads, or it is refused with one-line errors (no newline; the
 * messages of the importer, naming the input where the importer takes a name); it never throws
 * (a `KernelBug` or any other exception is a violation); it finishes within `FUZZ_TIME_LIMIT_MS`;
 * and a refused input changes nothing (the configfs tree and target state snapshot is the same
 * after a failed nvmetcli restore or configfs operation as before it).
 *
 * Kinds (`FUZZ_KINDS`): `nvmetcli-json` (nvmetcli restore of mutated saved files and arbitrary
 * JSON), `configfs` (mkdir/rmdir/symlink/unlink and stores to every nvmet attribute with hostile
 * values), `show-regs` (`nvme show-regs -H` dumps, mutated), `lspci` (the real dumps, mutated),
 * `topology-json` (the seed-switch topology, mutated), `cli-args` (`p2pdma` command lines).
 *
 * @kernel — (test tooling over nvmetcli, drivers/nvme/target/configfs.c, nvme-cli, lspci)
 */
import type { CliIo } from '@p2pdma/cli';
import { EXIT_NO, EXIT_OK, EXIT_USAGE, main as cliMain } from '@p2pdma/cli';
import { isErr, KernelBug } from '@p2pdma/kernel';
import type { ShowRegs } from '@p2pdma/nvme-pci';
import { formatShowRegs, nvmeConfigFromShowRegs, parseShowRegs } from '@p2pdma/nvme-pci';
import type { NvmetTestbed } from '@p2pdma/nvmet';
import { buildNvmetTestbed, nvmetcliRestore, nvmetcliRestoreJson, nvmetcliSave, nvmetConfigfsPath } from '@p2pdma/nvmet';
import { builtinNames, getBuiltin, importLspci, parseTopologyJson, validateTopologySpec } from '@p2pdma/pci-core';
import fc from 'fast-check';
import { configfsSnapshot, snapshotDiff } from './configfs-snapshot';
import { lspciFixturePaths, lspciFixtures } from './internal/fixtures';
import { applyLineOps, lineOpArb } from './internal/line-ops';

/** Longest a single input may take (wall clock) before it counts as a hang. */
export const FUZZ_TIME_LIMIT_MS = 2000;

/** JSON values. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** What the fuzzers share: a target to restore into (built on first use). */
export interface FuzzContext {
  /** The P2PDMA policy of the target testbed. */
  readonly policy: 'v2' | 'upstream';
  /** @internal the testbed, once built. */
  bed: NvmetTestbed | null;
  /** @internal the testbed's saved configuration (restored after an accepted input). */
  baseline: unknown;
  /** @internal its snapshot. */
  baselineSnapshot: string;
}

/**
 * A fuzz context.
 * @param policy the target's P2PDMA policy (default `upstream`).
 * @returns a context whose testbed is built on first use.
 */
export function createFuzzContext(policy: 'v2' | 'upstream' = 'upstream'): FuzzContext {
  return { policy, bed: null, baseline: null, baselineSnapshot: '' };
}

/**
 * The context's testbed: the headline setup with System RAM buffers (so nvmetcli's saved file
 * holds the whole configuration) and the initiator connected.
 * @param ctx the context.
 * @returns the testbed.
 * @throws Error when the testbed cannot be built (a model bug, not an input problem).
 */
export function fuzzTestbed(ctx: FuzzContext): NvmetTestbed {
  if (ctx.bed !== null) return ctx.bed;
  const bed = buildNvmetTestbed({ policy: ctx.policy, placement: 'system', namespaceBytes: 4 * 2 ** 20, hostMemoryBytes: 4 * 2 ** 20, seed: 9 });
  if ('error' in bed) throw new Error(`fuzz testbed: ${bed.error}`);
  ctx.bed = bed;
  ctx.baseline = JSON.parse(JSON.stringify(nvmetcliSave(bed.kernel)));
  ctx.baselineSnapshot = configfsSnapshot(bed.kernel, bed.target);
  return bed;
}

/** One input kind. */
export interface FuzzKind<I> {
  /** Kind name (`nvmetcli-json`). */
  readonly name: string;
  /** What it feeds and to whom. */
  readonly description: string;
  /**
   * Hostile inputs.
   * @param ctx the context (for kinds that need the target's names).
   */
  arbitrary(ctx: FuzzContext): fc.Arbitrary<I>;
  /**
   * Runs one input and checks the contract.
   * @param ctx the context.
   * @param input the input.
   * @returns `null`, or what broke (one line).
   */
  check(ctx: FuzzContext, input: I): string | null;
  /** @param input an input. @returns a short description for reports. */
  describe(input: I): string;
}

function escapeLine(s: string, max = 160): string {
  const j = JSON.stringify(s);
  return j.length > max ? `${j.slice(0, max)}…` : j;
}

/** A one-line error: non-empty, no CR or LF. */
function oneLine(what: string, e: string): string | null {
  if (e.length === 0) return `${what}: empty error message`;
  if (/[\r\n]/.test(e)) return `${what}: error message spans lines: ${escapeLine(e)}`;
  return null;
}

/** Runs `fn`, turning exceptions and slow runs into violations. */
function guarded(what: string, fn: () => string | null): string | null {
  const t0 = performance.now();
  let r: string | null;
  try {
    r = fn();
  } catch (e) {
    const kind = e instanceof KernelBug ? 'KernelBug' : e instanceof Error ? e.constructor.name : typeof e;
    return `${what}: threw ${kind}: ${e instanceof Error ? e.message.split('\n')[0] : String(e)}`;
  }
  const ms = performance.now() - t0;
  if (r === null && ms > FUZZ_TIME_LIMIT_MS) return `${what}: took ${ms.toFixed(0)} ms (limit ${FUZZ_TIME_LIMIT_MS} ms)`;
  return r;
}

// ---------------------------------------------------------------------------------------------
// JSON mutations

type JsonPath = Array<string | number>;

function jsonPaths(v: unknown, prefix: JsonPath = [], out: JsonPath[] = []): JsonPath[] {
  out.push(prefix);
  if (Array.isArray(v)) {
    for (let i = 0; i < v.length; i++) jsonPaths(v[i], [...prefix, i], out);
  } else if (v !== null && typeof v === 'object') for (const [k, x] of Object.entries(v)) jsonPaths(x, [...prefix, k], out);
  return out;
}

/** One edit of a JSON document. */
export type JsonOp =
  | { readonly op: 'delete'; readonly path: number }
  | { readonly op: 'set'; readonly path: number; readonly value: Json }
  | { readonly op: 'setKey'; readonly path: number; readonly key: string; readonly value: Json }
  | { readonly op: 'append'; readonly path: number; readonly value: Json };

function deepNest(depth: number): Json {
  let v: Json = 1;
  for (let i = 0; i < depth; i++) v = i % 2 === 0 ? [v] : { a: v };
  return v;
}

/** Hostile NQNs: too long, empty, spaces, newlines, the discovery NQN, path tricks. */
export const HOSTILE_NQNS: readonly string[] = [
  '',
  ' ',
  'nqn.2014-08.org.nvmexpress.discovery',
  'nqn.2014-08.org.nvmexpress.discovery\n',
  `nqn.2014-08.org.${'x'.repeat(240)}`,
  `nqn.${'y'.repeat(5000)}`,
  'nqn.2018-02.org.p2pdma:testbed\n',
  'two\nlines',
  'tab\there',
  '..',
  '.',
  'a/b',
  '../../ports/1',
  'nqn.é-ü',
  '\u202e',
  'nul\u0000byte',
  '0',
  '-1',
];

/** Hostile attribute values: booleans of both generations, numbers, addresses, junk. */
export const HOSTILE_VALUES: readonly string[] = [
  '1\n',
  '0\n',
  '1',
  '0',
  'y\n',
  'n\n',
  'Y',
  'N',
  'on\n',
  'off\n',
  't\n',
  'f\n',
  'true\n',
  '2\n',
  '-1\n',
  '',
  '\n',
  ' ',
  '\u0000',
  'rdma\n',
  'tcp\n',
  'fc\n',
  'loop\n',
  'ipv4\n',
  'ipv6\n',
  'ib\n',
  'not specified\n',
  'required\n',
  '192.168.0.1\n',
  '192.168.0.2\n',
  '256.1.1.1\n',
  '::1\n',
  'fe80::1%eth0\n',
  '4420\n',
  '65536\n',
  '0x10\n',
  '99999999999999999999\n',
  '18446744073709551616\n',
  '-9223372036854775809\n',
  '1e3\n',
  'NaN\n',
  '1.3\n',
  '1.4.0\n',
  '2.0.0.0\n',
  '65535.255.255\n',
  '-1.-1\n',
  '/dev/nvme1n1\n',
  '/dev/nvme0n1\n',
  '/dev/null\n',
  '/dev/nope\n',
  '0000:06:00.0\n',
  '0000:05:00.0\n',
  '0000:03:00.0\n',
  'zz:zz.z\n',
  'auto\n',
  'fae3aff3-83ed-4c1a-babc-df606f6173a7\n',
  'fae3aff3-83ed-4c1a-babc-df606f6173a\n',
  '00:11:22:33:44:55:66:77:88:99:aa:bb:cc:dd:ee:ff\n',
  '00112233445566778899aabbccddeeff\n',
  'SERIAL-12345678901234567890\n',
  'serial\u0007bell\n',
  '4096\n',
  '16384\n',
  '1048576\n',
  'x'.repeat(300),
  `${'9'.repeat(400)}\n`,
];

const hostileJsonValueArb: fc.Arbitrary<Json> = fc.oneof(
  fc.constantFrom<Json>(null, true, false, 0, -1, 1.5, 2 ** 53, 2 ** 64, -(2 ** 63), 1e308, 8192, 8193, 65536, 0xffffffff),
  fc.constantFrom<Json>(...HOSTILE_NQNS, ...HOSTILE_VALUES),
  fc.string({ maxLength: 24 }).map((s): Json => s),
  fc.integer().map((n): Json => n),
  fc.constantFrom<Json>([], {}, [null], { nqn: 'x' }, { portid: 1 }, { nsid: 1 }, ['x'], [1, 2]),
  fc.integer({ min: 20, max: 400 }).map(deepNest),
);

const jsonOpArb: fc.Arbitrary<JsonOp> = fc.oneof(
  fc.record({ op: fc.constant('delete' as const), path: fc.nat() }),
  fc.record({ op: fc.constant('set' as const), path: fc.nat(), value: hostileJsonValueArb }),
  fc.record({
    op: fc.constant('setKey' as const),
    path: fc.nat(),
    key: fc.constantFrom('nqn', 'nsid', 'portid', 'enable', 'path', 'trtype', 'traddr', 'trsvcid', 'adrfam', 'allow_any_host', 'serial', 'version', 'allowed_hosts', 'subsystems', 'namespaces', 'p2pmem', 'allow_p2pmem', 'inline_data_size', '__proto__', 'extra'),
    value: hostileJsonValueArb,
  }),
  fc.record({ op: fc.constant('append' as const), path: fc.nat(), value: hostileJsonValueArb }),
);

/**
 * Applies JSON edits to a copy of a document.
 * @param doc the document.
 * @param ops the edits (paths are indexes into the document's path list, modulo its length).
 * @returns the edited copy.
 */
export function applyJsonOps(doc: unknown, ops: readonly JsonOp[]): unknown {
  const root: { v: Json } = { v: JSON.parse(JSON.stringify(doc ?? null)) as Json };
  const all = jsonPaths(root.v);
  for (const o of ops) {
    const p = all[o.path % all.length]!;
    let parent: Json | { v: Json } = root;
    let key: string | number = 'v';
    let ok = true;
    for (const k of p) {
      const next: Json | undefined = (parent as Record<string | number, Json>)[key];
      if (next === null || next === undefined || typeof next !== 'object') {
        ok = false;
        break;
      }
      parent = next;
      key = k;
    }
    if (!ok) continue;
    const holder = parent as Record<string | number, Json>;
    const target = holder[key];
    // Each edit inserts its own copy: the arbitraries hand out shared constant objects, and an
    // edit of an inserted object must not change the constant (or make the document circular).
    const value = 'value' in o ? (JSON.parse(JSON.stringify(o.value)) as Json) : null;
    switch (o.op) {
      case 'delete':
        if (Array.isArray(holder) && typeof key === 'number') holder.splice(key, 1);
        else delete holder[key];
        break;
      case 'set':
        holder[key] = value;
        break;
      case 'setKey':
        if (target !== null && target !== undefined && typeof target === 'object' && !Array.isArray(target)) {
          Object.defineProperty(target, o.key, { value, enumerable: true, writable: true, configurable: true });
        }
        break;
      case 'append':
        if (Array.isArray(target)) target.push(value);
        break;
    }
  }
  return root.v;
}

// ---------------------------------------------------------------------------------------------
// nvmetcli restore

/** An nvmetcli input: a parsed document or the text of a file. */
export type NvmetcliInput = { readonly kind: 'value'; readonly value: unknown } | { readonly kind: 'text'; readonly text: string };

/** Example documents: the shapes nvmetcli writes, with two subsystems, hosts and two ports. */
function richConfig(base: unknown): unknown {
  const b = JSON.parse(JSON.stringify(base)) as { hosts: Json[]; ports: Array<Record<string, Json>>; subsystems: Array<Record<string, Json>> };
  b.hosts.push({ nqn: 'nqn.2014-08.org.nvmexpress:uuid:h1' }, { nqn: 'nqn.2014-08.org.nvmexpress:uuid:h2' });
  b.subsystems.push({
    nqn: 'nqn.2018-02.org.p2pdma:second',
    attr: { allow_any_host: '0', version: '1.3' },
    allowed_hosts: ['nqn.2014-08.org.nvmexpress:uuid:h1'],
    namespaces: [{ nsid: 7, enable: 0, device: { path: '/dev/nvme0n1', nguid: '00000000-0000-0000-0000-000000000000' } }],
  });
  b.ports.push({ portid: 2, addr: { trtype: 'rdma', adrfam: 'ipv4', traddr: '192.168.0.1', trsvcid: '4421', treq: 'not specified' }, subsystems: ['nqn.2018-02.org.p2pdma:second'], referrals: [], ana_groups: [] });
  return b;
}

const NVMETCLI_NAME = 'nvmetcli.json';

/**
 * A saved file without its empty attribute values: an attribute never set (a port's `trtype`)
 * shows as an empty line, nvmetcli saves `""`, and writing `""` back is refused by the kernel, so
 * the real tool cannot restore such a file either. The round trip is checked on the rest.
 */
function withoutEmptyValues(v: Json): Json {
  if (Array.isArray(v)) return v.map(withoutEmptyValues);
  if (v !== null && typeof v === 'object') {
    const o: { [key: string]: Json } = {};
    for (const [k, x] of Object.entries(v)) if (x !== '') o[k] = withoutEmptyValues(x);
    return o;
  }
  return v;
}

function checkNvmetcli(ctx: FuzzContext, input: NvmetcliInput): string | null {
  const bed = fuzzTestbed(ctx);
  const before = configfsSnapshot(bed.kernel, bed.target);
  return guarded(`nvmetcli restore ${NVMETCLI_NAME}`, () => {
    const r = input.kind === 'text' ? nvmetcliRestoreJson(bed.kernel, input.text) : nvmetcliRestore(bed.kernel, input.value);
    if (!r.ok) {
      if (r.errors.length === 0) return 'refused with no error message';
      for (const e of r.errors) {
        const bad = oneLine('nvmetcli restore', e);
        if (bad !== null) return bad;
      }
      const d = snapshotDiff(before, configfsSnapshot(bed.kernel, bed.target));
      if (d !== null) return `refused (${escapeLine(r.errors[0]!, 80)}) but the configuration changed: ${d}`;
      return null;
    }
    if (r.errors.length > 0) return `accepted with errors: ${escapeLine(r.errors[0]!)}`;
    // Accepted: the new configuration saves and restores to itself, then the baseline comes back.
    const saved = withoutEmptyValues(JSON.parse(JSON.stringify(nvmetcliSave(bed.kernel))) as Json);
    const snap = configfsSnapshot(bed.kernel, bed.target);
    const again = nvmetcliRestore(bed.kernel, saved);
    if (!again.ok) return `accepted, but its own save does not restore: ${escapeLine(again.errors[0] ?? '')}`;
    const d = snapshotDiff(snap, configfsSnapshot(bed.kernel, bed.target));
    if (d !== null) return `accepted, but save + restore changes the configuration: ${d}`;
    const back = nvmetcliRestore(bed.kernel, ctx.baseline);
    if (!back.ok) return `the baseline no longer restores after it: ${escapeLine(back.errors[0] ?? '')}`;
    return null;
  });
}

/** nvmetcli restore of hostile files. */
export const NVMETCLI_FUZZ: FuzzKind<NvmetcliInput> = {
  name: 'nvmetcli-json',
  description: 'nvmetcli restore (packages/nvmet nvmetcli.ts) of mutated saved files, arbitrary JSON and broken text',
  arbitrary(ctx) {
    fuzzTestbed(ctx);
    const docs = [ctx.baseline, richConfig(ctx.baseline)];
    const mutated = fc
      .record({ doc: fc.constantFrom(...docs), ops: fc.array(jsonOpArb, { minLength: 1, maxLength: 6 }) })
      .map(({ doc, ops }): NvmetcliInput => ({ kind: 'value', value: applyJsonOps(doc, ops) }));
    const text = JSON.stringify(docs[1], null, 2);
    return fc.oneof(
      { weight: 6, arbitrary: mutated },
      { weight: 1, arbitrary: fc.jsonValue({ maxDepth: 3 }).map((value): NvmetcliInput => ({ kind: 'value', value })) },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: text.length }).map((n): NvmetcliInput => ({ kind: 'text', text: text.slice(0, n) })) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }).map((t): NvmetcliInput => ({ kind: 'text', text: t })) },
      { weight: 1, arbitrary: mutated.map((m): NvmetcliInput => ({ kind: 'text', text: JSON.stringify(m.kind === 'value' ? m.value : null) ?? '' })) },
    );
  },
  check: checkNvmetcli,
  describe: (i) => (i.kind === 'text' ? `text ${escapeLine(i.text, 120)}` : `value ${escapeLine(JSON.stringify(i.value) ?? 'undefined', 120)}`),
};

// ---------------------------------------------------------------------------------------------
// configfs operations

/** One configfs operation, with paths relative to the nvmet root. */
export type ConfigfsOp =
  | { readonly op: 'write'; readonly path: string; readonly value: string }
  | { readonly op: 'mkdir' | 'rmdir' | 'unlink'; readonly path: string }
  | { readonly op: 'symlink'; readonly target: string; readonly path: string };

const NS_ATTRS = ['device_path', 'device_nguid', 'device_uuid', 'enable', 'p2pmem'];
const SUBSYS_ATTRS = ['attr_allow_any_host', 'attr_serial', 'attr_version'];
const PORT_ATTRS = ['addr_adrfam', 'addr_treq', 'addr_traddr', 'addr_trsvcid', 'addr_trtype', 'allow_p2pmem', 'param_inline_data_size'];

/**
 * Hostile configfs operations on the testbed's tree.
 * @param nqn the testbed's subsystem NQN.
 * @returns the arbitrary.
 */
export function configfsOpArb(nqn: string): fc.Arbitrary<ConfigfsOp> {
  // Every hostile NQN as a directory name too, NUL bytes and '/' included (configfs refuses a
  // path with a NUL with -EINVAL; a '/' splits the path).
  const nqns = fc.constantFrom(nqn, 'nqn.2018-02.org.p2pdma:other', ...HOSTILE_NQNS);
  const nsids = fc.constantFrom('1', '2', '0', '4294967295', '4294967296', '0x10', '-1', '1024', 'one', '01');
  const portids = fc.constantFrom('1', '2', '0', '65535', '65536', '0x2', 'p');
  const subsysDir = nqns.map((n) => `subsystems/${n}`);
  const nsDir = fc.tuple(nqns, nsids).map(([n, i]) => `subsystems/${n}/namespaces/${i}`);
  const portDir = portids.map((p) => `ports/${p}`);
  const hostDir = nqns.map((n) => `hosts/${n}`);
  const value = fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...HOSTILE_VALUES, ...HOSTILE_NQNS) }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 64 }) });
  const write = fc.oneof(
    fc.record({ op: fc.constant('write' as const), path: fc.tuple(nsDir, fc.constantFrom(...NS_ATTRS)).map(([d, a]) => `${d}/${a}`), value }),
    fc.record({ op: fc.constant('write' as const), path: fc.tuple(subsysDir, fc.constantFrom(...SUBSYS_ATTRS)).map(([d, a]) => `${d}/${a}`), value }),
    fc.record({ op: fc.constant('write' as const), path: fc.tuple(portDir, fc.constantFrom(...PORT_ATTRS)).map(([d, a]) => `${d}/${a}`), value }),
    fc.record({ op: fc.constant('write' as const), path: fc.constantFrom(`subsystems/${nqn}/namespaces/1/enable`, 'ports/1/addr_traddr', 'ports/1/addr_trtype'), value }),
  );
  return fc.oneof(
    { weight: 8, arbitrary: write },
    { weight: 2, arbitrary: fc.record({ op: fc.constantFrom('mkdir' as const, 'rmdir' as const), path: fc.oneof(subsysDir, nsDir, portDir, hostDir, fc.constantFrom('ports/1/referrals/r', 'subsystems', 'x/y')) }) },
    {
      weight: 2,
      arbitrary: fc.oneof(
        fc.record({ op: fc.constant('symlink' as const), target: subsysDir, path: fc.tuple(portids, nqns).map(([p, n]) => `ports/${p}/subsystems/${n}`) }),
        fc.record({ op: fc.constant('symlink' as const), target: hostDir, path: fc.tuple(nqns, nqns).map(([s, h]) => `subsystems/${s}/allowed_hosts/${h}`) }),
        fc.record({ op: fc.constant('symlink' as const), target: fc.constantFrom('ports/1', 'hosts', '../../x', '/etc/passwd'), path: fc.constantFrom(`ports/1/subsystems/x`, `subsystems/${nqn}/allowed_hosts/y`) }),
      ),
    },
    { weight: 1, arbitrary: fc.record({ op: fc.constant('unlink' as const), path: fc.oneof(fc.tuple(portids, nqns).map(([p, n]) => `ports/${p}/subsystems/${n}`), fc.tuple(nqns, nqns).map(([s, h]) => `subsystems/${s}/allowed_hosts/${h}`)) }) },
  );
}

/** A sequence of configfs operations (state builds up across them, as a user's shell session). */
export type ConfigfsSession = readonly ConfigfsOp[];

function runConfigfsOp(bed: NvmetTestbed, root: string, o: ConfigfsOp): number {
  const cfs = bed.kernel.configfs;
  const p = `${root}/${o.path}`;
  switch (o.op) {
    case 'write':
      return cfs.write(p, o.value);
    case 'mkdir':
      return cfs.mkdir(p);
    case 'rmdir':
      return cfs.rmdir(p);
    case 'unlink':
      return cfs.unlink(p);
    case 'symlink':
      return cfs.symlink(o.target.startsWith('/') ? o.target : `${root}/${o.target}`, p);
  }
}

function checkConfigfs(ctx: FuzzContext, session: ConfigfsSession): string | null {
  const bed = fuzzTestbed(ctx);
  const root = nvmetConfigfsPath(bed.target);
  const v = guarded('configfs session', () => {
    for (const o of session) {
      const before = configfsSnapshot(bed.kernel, bed.target);
      const r = runConfigfsOp(bed, root, o);
      if (typeof r !== 'number' || !Number.isInteger(r)) return `${o.op} ${o.path}: returned ${String(r)}`;
      if (r < 0) {
        if (!isErr(r)) return `${o.op} ${o.path}: returned ${r}, not an errno`;
        const d = snapshotDiff(before, configfsSnapshot(bed.kernel, bed.target));
        if (d !== null) return `${o.op} ${o.path}${o.op === 'write' ? ` ${escapeLine(o.value, 40)}` : ''} failed (${r}) but changed the configuration: ${d}`;
      } else if (o.op === 'write' && r !== o.value.length) return `write ${o.path}: consumed ${r} of ${o.value.length} bytes`;
    }
    return null;
  });
  // Whatever the session did, the baseline configuration must restore (and the run goes on from it).
  const back = guarded('restore of the baseline', () => {
    const r = nvmetcliRestore(bed.kernel, ctx.baseline);
    if (!r.ok) return `after the session the baseline does not restore: ${escapeLine(r.errors[0] ?? '')}`;
    return null;
  });
  bed.kernel.clock.advance(1_000_000);
  return v ?? back;
}

/** configfs stores and directory operations with hostile names and values. */
export const CONFIGFS_FUZZ: FuzzKind<ConfigfsSession> = {
  name: 'configfs',
  description: 'nvmet configfs (packages/nvmet configfs.ts): mkdir/rmdir/symlink/unlink and stores to every attribute, enable toggled at any time',
  arbitrary(ctx) {
    const bed = fuzzTestbed(ctx);
    return fc.array(configfsOpArb(bed.subsysnqn), { minLength: 1, maxLength: 12 });
  },
  check: checkConfigfs,
  describe: (s) => s.map((o) => `${o.op} ${escapeLine(o.path, 60)}${o.op === 'write' ? ` ${escapeLine(o.value, 40)}` : ''}`).join('; '),
};

// ---------------------------------------------------------------------------------------------
// nvme show-regs

const SHOW_REGS_NAME = 'show-regs.txt';

const showRegsArb: fc.Arbitrary<ShowRegs> = fc.record({
  cap: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  vs: fc.constantFrom(0x10000, 0x10100, 0x10200, 0x10300, 0x10400, 0x20000),
  cc: fc.integer({ min: 0, max: 0xffffffff }),
  csts: fc.integer({ min: 0, max: 0xffffffff }),
  aqa: fc.integer({ min: 0, max: 0xffffffff }),
  asq: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  acq: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  cmbloc: fc.integer({ min: 0, max: 0xffffffff }),
  cmbsz: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffffffff })),
});

const SHOW_REGS_LINES: readonly string[] = [
  'cap     : 2078030fff',
  'version : 10200',
  'cmbloc  : 0',
  'cmbsz   : 20017',
  'bpinfo  : 0',
  'pmrcap  : 0',
  '\tMaximum Queue Entries Supported (MQES): 4096',
  '\tTimeout                           (TO): 60000 ms',
  '\tSize                      (SZ): 2',
  '\tSize Units               (SZU): 1 MB',
  '\tBase Indicator Register (BIR): 2',
  '\tOffset                 (OFST): 0 (See cmbsz.szu for granularity)',
  '\tController Memory Buffer feature is not supported',
  'cap: 0x203c033fff',
  'CAP : 1',
  'version :',
  ': 10',
  '    cap : 1',
  '\t(MQES): ',
  'cmbsz   : 1\r2',
  '\u000fjunk\rmore',
  'version : 10000\r',
];

/** `nvme show-regs` dumps: printed from random registers, then edited line by line. */
export const SHOW_REGS_FUZZ: FuzzKind<string> = {
  name: 'show-regs',
  description: 'nvme show-regs -H text (packages/nvme-pci show-regs.ts): real-looking dumps, mutated',
  arbitrary() {
    const mutated = fc
      .record({ regs: showRegsArb, ops: fc.array(lineOpArb(SHOW_REGS_LINES), { minLength: 0, maxLength: 6 }), crlf: fc.boolean() })
      .map(({ regs, ops, crlf }) => applyLineOps(formatShowRegs(regs), ops, crlf));
    const long = fc
      .record({ unit: fc.constantFrom('(A)', ' ', '\t(MQES)', 'cap', '0', ':', '( ', '(Z9)(') , n: fc.integer({ min: 1000, max: 40_000 }), lead: fc.constantFrom('\t', 'cap     : ', '', '\tx') })
      .map(({ unit, n, lead }) => `cap     : 1\nversion : 10000\ncmbloc  : 0\ncmbsz   : 0\n${lead}${unit.repeat(n)}x\n`);
    return fc.oneof({ weight: 8, arbitrary: mutated }, { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) }, { weight: 1, arbitrary: long });
  },
  check(_ctx, text) {
    return guarded(`parseShowRegs ${SHOW_REGS_NAME}`, () => {
      const r = parseShowRegs(text, SHOW_REGS_NAME);
      if (!r.ok) {
        if (!r.error.startsWith(`show-regs '${SHOW_REGS_NAME}': `)) return `error does not name the input: ${escapeLine(r.error)}`;
        return oneLine('parseShowRegs', r.error);
      }
      nvmeConfigFromShowRegs(r.regs);
      const again = parseShowRegs(formatShowRegs(r.regs), SHOW_REGS_NAME);
      if (!again.ok) return `accepted, but its own printout is refused: ${again.error}`;
      for (const k of ['cap', 'vs', 'cmbloc', 'cmbsz'] as const) if (again.regs[k] !== r.regs[k]) return `accepted, but print + parse changes ${k}`;
      return null;
    });
  },
  describe: (t) => escapeLine(t, 160),
};

// ---------------------------------------------------------------------------------------------
// lspci and topology JSON (the importers of pci-core; pci-core's own suite has the finer arbitraries)

const LSPCI_NAME = 'hostile.lspci.txt';
const LSPCI_LINES: readonly string[] = [
  '00:00.0 Host bridge [0600]: Intel Corporation Device [8086:6f00] (rev 01)',
  '02:08.0 PCI bridge [0604]: PLX Technology, Inc. PEX 8747 48-Lane, 5-Port PCI Express Gen 3 (8.0 GT/s) Switch [10b5:8747] (rev ca)',
  '03:00.0 Ethernet controller [0200]: Mellanox Technologies MT27800 Family [ConnectX-5] [15b3:1017]',
  '\tBus: primary=00, secondary=01, subordinate=ff, sec-latency=0',
  '\tRegion 0: Memory at f0000000 (64-bit, prefetchable) [size=3M]',
  '\tCapabilities: [40] Express (v2) Downstream Port (Slot+), MSI 00',
  '\t\tACSCtl:\tSrcValid+ TransBlk- ReqRedir- CmpltRedir- UpstreamFwd- EgressCtrl+ DirectTrans-',
  '\t\tLnkSta:\tSpeed 2.5GT/s (downgraded), Width x0 (downgraded)',
  '',
];

/** The real lspci dumps, edited line by line, and arbitrary text. */
export const LSPCI_FUZZ: FuzzKind<string> = {
  name: 'lspci',
  description: 'lspci -vvv -nn text (packages/pci-core importLspci): the shared real dumps, mutated',
  arbitrary() {
    const fixtures = lspciFixtures();
    const arbs: Array<fc.WeightedArbitrary<string>> = [{ weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 300 }) }];
    if (fixtures.length > 0) {
      arbs.push({
        weight: 6,
        arbitrary: fc
          .record({ f: fc.integer({ min: 0, max: fixtures.length - 1 }), ops: fc.array(lineOpArb(LSPCI_LINES), { minLength: 1, maxLength: 6 }), crlf: fc.boolean() })
          .map(({ f, ops, crlf }) => applyLineOps(fixtures[f]!.text, ops, crlf)),
      });
    }
    return fc.oneof(...arbs);
  },
  check(_ctx, text) {
    return guarded(`importLspci ${LSPCI_NAME}`, () => {
      const r = importLspci(text, LSPCI_NAME);
      if (r.ok) return validateTopologySpec(r.spec).ok ? null : 'accepted a spec that does not validate';
      if (!r.error.startsWith(`${LSPCI_NAME}: `)) return `error does not name the input: ${escapeLine(r.error)}`;
      return oneLine('importLspci', r.error);
    });
  },
  describe: (t) => escapeLine(t, 160),
};

const TOPOLOGY_NAME = 'hostile-topology.json';

/** The seed-switch topology, edited, as a file. */
export const TOPOLOGY_JSON_FUZZ: FuzzKind<string> = {
  name: 'topology-json',
  description: 'topology JSON (packages/pci-core parseTopologyJson): the seed-switch topology, mutated and cut',
  arbitrary() {
    const seed = JSON.parse(JSON.stringify(getBuiltin('seed-switch'))) as unknown;
    const text = JSON.stringify(seed, null, 1);
    return fc.oneof(
      { weight: 5, arbitrary: fc.array(jsonOpArb, { minLength: 1, maxLength: 5 }).map((ops) => JSON.stringify(applyJsonOps(seed, ops), null, 1) ?? '') },
      { weight: 1, arbitrary: fc.integer({ min: 0, max: text.length }).map((n) => text.slice(0, n)) },
      { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
    );
  },
  check(_ctx, text) {
    return guarded(`parseTopologyJson ${TOPOLOGY_NAME}`, () => {
      const r = parseTopologyJson(text, TOPOLOGY_NAME);
      if (r.ok) return validateTopologySpec(r.spec).ok ? null : 'accepted a spec that does not validate';
      if (r.errors.length === 0) return 'refused with no error';
      for (const e of r.errors) {
        const bad = oneLine('parseTopologyJson', `${e.path}: ${e.message}`);
        if (bad !== null) return bad;
      }
      return null;
    });
  },
  describe: (t) => escapeLine(t, 160),
};

// ---------------------------------------------------------------------------------------------
// p2pdma command lines

const CLI_COMMANDS = ['topology', 'check', 'find', 'matrix', 'iommu-groups', 'route', 'help', '--help', 'bogus', '', '-'];
const CLI_OPTIONS = ['--provider', '--client', '--endpoint', '--from', '--to', '--bar', '--offset', '--bytes', '--address', '--path', '--policy', '--json', '--iommu', '--cpu', '--cmdline', '--', '-x', '--bar=7', '--policy=v3'];
const CLI_VALUES = ['v2', 'upstream', 'on', 'off', 'amd-zen', 'intel', '0', '4', '-1', '0x10', '4096', '99999999999999999999', 'NaN', 'pci=disable_acs_redir=0000:02:08.0', '03:00.0,06:00.0', ','];
const CLI_BDFS = ['03:00.0', '06:00.0', '0000:05:00.0', '02:08.0', '00:00.0', 'ff:1f.7', '10000:00:00.0', '00:00.8', 'zz:zz.z'];

/**
 * `p2pdma` command lines (render and simulate are left out: one writes files, the other is a
 * long scenario run).
 * @returns the arbitrary.
 */
export function cliArgvArb(): fc.Arbitrary<string[]> {
  const topologies = [...builtinNames().map((n) => `builtin:${n}`), 'builtin:nope', 'builtin:', ...lspciFixturePaths(), '/nonexistent/topology.json'];
  const garbage = fc.oneof(fc.string({ maxLength: 12 }), fc.string({ unit: 'binary', maxLength: 8 }), fc.constantFrom('\n', 'a\nb', '\r\n', '\u0000', ' '));
  const word = fc.oneof(
    { weight: 3, arbitrary: fc.constantFrom(...CLI_OPTIONS) },
    { weight: 2, arbitrary: fc.constantFrom(...CLI_VALUES) },
    { weight: 3, arbitrary: fc.constantFrom(...CLI_BDFS) },
    { weight: 1, arbitrary: fc.constantFrom(...topologies) },
    { weight: 1, arbitrary: garbage },
  );
  return fc
    .tuple(fc.oneof({ weight: 4, arbitrary: fc.constantFrom(...CLI_COMMANDS) }, { weight: 1, arbitrary: garbage }), fc.option(fc.constantFrom(...topologies), { nil: undefined }), fc.array(word, { maxLength: 7 }))
    .map(([c, t, rest]) => [c, ...(t === undefined ? [] : [t]), ...rest])
    .filter((argv) => !argv.includes('render') && !argv.includes('simulate'));
}

/** `p2pdma` command lines through `main` with a capturing io. */
export const CLI_FUZZ: FuzzKind<string[]> = {
  name: 'cli-args',
  description: 'p2pdma command lines (packages/cli main): vocabulary words, garbage and the real dumps',
  arbitrary: () => cliArgvArb(),
  check(_ctx, argv) {
    return guarded(`p2pdma ${argv.map((a) => escapeLine(a, 30)).join(' ')}`, () => {
      let out = '';
      let err = '';
      const io: CliIo = { out: (s) => (out += s), err: (s) => (err += s), isTTY: false };
      const code = cliMain(argv, io);
      if (code !== EXIT_OK && code !== EXIT_NO && code !== EXIT_USAGE) return `exit code ${code}`;
      if (code === EXIT_USAGE) {
        if (out !== '') return 'exit 2 with output on stdout';
        if (!err.endsWith('\n') || err.slice(0, -1).includes('\n')) return `exit 2 without exactly one line on stderr: ${escapeLine(err)}`;
      }
      return null;
    });
  },
  describe: (argv) => argv.map((a) => escapeLine(a, 40)).join(' '),
};

/** Every input kind, in report order. */
export const FUZZ_KINDS: readonly FuzzKind<unknown>[] = [NVMETCLI_FUZZ, CONFIGFS_FUZZ, SHOW_REGS_FUZZ, LSPCI_FUZZ, TOPOLOGY_JSON_FUZZ, CLI_FUZZ] as unknown as readonly FuzzKind<unknown>[];

/** The outcome of a batch. */
export interface FuzzBatchResult {
  /** The kind. */
  readonly kind: string;
  /** Inputs run. */
  readonly inputs: number;
  /** Contract violations: the input and what broke. */
  readonly violations: readonly string[];
}

/**
 * Runs a batch of one kind's inputs.
 * @param kind the kind.
 * @param ctx the context.
 * @param seed fast-check seed.
 * @param count inputs.
 * @returns inputs run and violations (each naming the input).
 */
export function runFuzzBatch<I>(kind: FuzzKind<I>, ctx: FuzzContext, seed: number, count: number): FuzzBatchResult {
  const inputs = fc.sample(kind.arbitrary(ctx), { seed, numRuns: count });
  const violations: string[] = [];
  for (const i of inputs) {
    const v = kind.check(ctx, i);
    if (v !== null) violations.push(`${kind.name}: ${v} (input: ${kind.describe(i)})`);
  }
  return { kind: kind.name, inputs: inputs.length, violations };
}
