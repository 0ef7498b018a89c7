/**
 * The `p2pdma` command: parses the command line, loads the topology, runs one command and
 * returns its exit code. User errors print one line and exit 2; nothing else is printed then.
 */
import { normalizeBdf, parseBdf } from '@p2pdma/pci-core';
import { type OptionSpec, parseArgs, UsageError } from './args';
import { renderCheck, renderFind, renderIommuGroups, renderMatrix, runCheck, runFind, runIommuGroups, runMatrix } from './commands/query';
import { renderSvg } from './commands/render';
import { renderRoute, routeDma } from './commands/route';
import { renderSimulate, runSimulate } from './commands/simulate';
import { renderTopology, topologyJson } from './commands/topology';
import { writeFileSync } from 'node:fs';
import { type CpuChoice, type CpuJson, resolveCpu } from './cpu';
import { type LoadedTopology, loadTopology } from './input';
import { bootMachine } from './machine';
import { ProgressBar } from './progress';

/** Where a command writes, and what it may know about the terminal and the time. */
export interface CliIo {
  /** Writes to stdout (the answer). */
  out(s: string): void;
  /** Writes to stderr (errors, the progress bar). */
  err(s: string): void;
  /** Whether stdout is a terminal. */
  isTTY: boolean;
  /** Whether stderr is a terminal: the progress bar is drawn only then (default false). */
  errIsTTY?: boolean;
  /** Wall clock in milliseconds, for the progress bar's delay (default `performance.now`). */
  now?: () => number;
}

/** Exit codes: 0 success / supported, 1 a negative answer, 2 bad input. */
export const EXIT_OK = 0;
/** A negative answer (not supported, bytes did not land). */
export const EXIT_NO = 1;
/** Bad input: usage, unknown device or builtin, unreadable file. */
export const EXIT_USAGE = 2;

const BDF_RE = /^([0-9a-fA-F]{4,5}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;

const LIST_OF_BDFS: OptionSpec = { kind: 'list', continueIf: BDF_RE };

const COMMON: Record<string, OptionSpec> = {
  policy: { kind: 'value', choices: ['v2', 'upstream'] },
  json: { kind: 'flag' },
  iommu: { kind: 'value', choices: ['on', 'off'] },
  cpu: { kind: 'value', choices: ['amd-zen', 'intel', 'other'] },
  cmdline: { kind: 'value' },
};

/** Usage text printed by `p2pdma help`. */
export const USAGE = `usage: p2pdma <command> <topology> [options]

<topology> is builtin:<name>, a topology JSON file, or a saved \`lspci -vvv -nn\` output.

commands:
  topology <topo>                         the enumerated tree: port types, links, ACS, BARs, p2pmem
  check <topo> --provider <BDF> --client <BDF>...
                                          can these clients use this provider's p2pmem? why, and the fix
  find <topo> --client <BDF>... [--provider <BDF>...]
                                          the provider the kernel would pick, and every candidate
  matrix <topo>                           pairwise map type and distance between endpoints
  iommu-groups <topo>                     IOMMU groups with ACS on, and after the seed's ACS clearing
  render <topo> [--path <BDF>,<BDF>] -o out.svg
                                          an SVG of the tree with the P2P path and ACS culprits
  route <topo> --from <BDF> --to <BDF>    one DMA write through the fabric, with bytes per link
        [--bar N] [--offset N] [--bytes N] [--address bus|cpu]
  simulate <scenario> [--policy v2|upstream] [--json]
                                          remote writes and reads through the NVMe-oF target per
                                          buffer placement: bytes per link, throughput, verified;
                                          <scenario> is builtin:nvmf-p2p-offload or a scenario
                                          file (JSON, schema p2pdma-cli/scenario/v1)
  help                                    this text

common options (after the command): --policy v2|upstream (default upstream), --iommu on|off,
  --json, --cpu amd-zen|intel|other (default: the topology's, else inferred from the host
  bridge, and said so), --cmdline '<kernel command line>'; simulate takes --policy and --json
exit codes: 0 yes / done, 1 no (not supported, nothing found, bytes did not land, not verified),
  2 bad input
`;

function bdf(s: string, what: string): string {
  if (!BDF_RE.test(s) || !parseBdf(s)) throw new UsageError(`${what}: '${s}' is not a PCI address (expected [dddd:]bb:dd.f)`);
  return normalizeBdf(s)!;
}

function intOpt(v: string | undefined, name: string, dflt: number, min: number, max: number): number {
  if (v === undefined) return dflt;
  const n = /^0x[0-9a-f]+$/i.test(v) ? Number.parseInt(v, 16) : /^\d+$/.test(v) ? Number(v) : Number.NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(`--${name} must be an integer from ${min} to ${max} (got '${v}')`);
  return n;
}

function oneTopology(positionals: string[], command: string): string {
  if (positionals.length === 0) throw new UsageError(`${command}: missing <topology> (builtin:<name>, a JSON file or lspci text)`);
  if (positionals.length > 1) throw new UsageError(`${command}: unexpected argument '${positionals[1]}'`);
  return positionals[0]!;
}

interface Common {
  input: LoadedTopology;
  /** The topology with the resolved CPU. */
  spec: LoadedTopology['spec'];
  /** The CPU the AMD rule sees, and where it came from. */
  cpu: CpuJson;
  policy: 'v2' | 'upstream';
  iommu?: boolean;
  cmdline?: string;
  json: boolean;
}

function common(a: ReturnType<typeof parseArgs>, command: string): Common {
  const input = loadTopology(oneTopology(a.positionals, command));
  const iommu = a.values.get('iommu');
  const cmdline = a.values.get('cmdline');
  const boot = {
    policy: (a.values.get('policy') as 'v2' | 'upstream') ?? 'upstream',
    ...(iommu ? { iommu: iommu === 'on' } : {}),
    ...(cmdline !== undefined ? { cmdline } : {}),
  };
  const cpu = resolveCpu(input, a.values.get('cpu') as CpuChoice | undefined, (spec) => bootMachine(spec, boot));
  return { input, spec: cpu.spec, cpu: cpu.json, ...boot, json: a.flags.has('json') };
}

/** The commands that take arguments, and the options each accepts (anything else is refused). */
const COMMAND_OPTIONS = {
  topology: COMMON,
  check: { ...COMMON, provider: { kind: 'value' }, client: LIST_OF_BDFS },
  find: { ...COMMON, provider: LIST_OF_BDFS, client: LIST_OF_BDFS },
  matrix: { ...COMMON, endpoint: LIST_OF_BDFS },
  'iommu-groups': COMMON,
  render: { ...COMMON, path: { kind: 'value' }, out: { kind: 'value', short: 'o' } },
  route: { ...COMMON, from: { kind: 'value' }, to: { kind: 'value' }, bar: { kind: 'value' }, offset: { kind: 'value' }, bytes: { kind: 'value' }, address: { kind: 'value', choices: ['bus', 'cpu'] } },
  simulate: { policy: COMMON['policy']!, json: COMMON['json']! },
} as const satisfies Record<string, Record<string, OptionSpec>>;

type CommandName = keyof typeof COMMAND_OPTIONS;

/** The commands other than `command` that take option `name`. */
function commandsTaking(name: string, command?: CommandName): CommandName[] {
  return (Object.keys(COMMAND_OPTIONS) as CommandName[]).filter((c) => c !== command && Object.hasOwn(COMMAND_OPTIONS[c], name));
}

/** Parse a command's arguments against its own options; an option of another command is named as such. */
function parse(command: CommandName, rest: readonly string[]): ReturnType<typeof parseArgs> {
  return parseArgs(rest, COMMAND_OPTIONS[command], command, (name) => commandsTaking(name, command));
}

/** A word before the command that looks like an option: say where options go. */
function optionBeforeCommand(word: string): UsageError {
  const name = word.replace(/^--?/, '').replace(/=.*$/, '');
  if (commandsTaking(name).length === 0) return new UsageError(`unknown option '${word}' before the command (try: p2pdma help)`);
  return new UsageError(`option '${word}' comes before the command: options go after the command and its operand (p2pdma <command> <topology> ${word})`);
}

function run(argv: readonly string[], io: CliIo): number {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
      throw new UsageError('missing command (try: p2pdma help)');
    case 'help':
    case '--help':
    case '-h':
      io.out(USAGE);
      return EXIT_OK;
    case 'topology': {
      const a = parse(command, rest);
      const c = common(a, command);
      const m = bootMachine(c.spec, c);
      const t = topologyJson(m, c.input, c.cpu);
      io.out(c.json ? `${JSON.stringify(t, null, 2)}\n` : renderTopology(t));
      return EXIT_OK;
    }
    case 'check': {
      const a = parse(command, rest);
      const c = common(a, command);
      const provider = a.values.get('provider');
      const clients = a.lists.get('client') ?? [];
      if (!provider) throw new UsageError('check: --provider <BDF> is required');
      if (clients.length === 0) throw new UsageError('check: at least one --client <BDF> is required');
      const r = runCheck(c.spec, bdf(provider, '--provider'), clients.map((x) => bdf(x, '--client')), c, c.cpu);
      io.out(c.json ? `${JSON.stringify(r, null, 2)}\n` : renderCheck(r));
      return r.supported ? EXIT_OK : EXIT_NO;
    }
    case 'find': {
      const a = parse(command, rest);
      const c = common(a, command);
      const clients = (a.lists.get('client') ?? []).map((x) => bdf(x, '--client'));
      if (clients.length === 0) throw new UsageError('find: at least one --client <BDF> is required');
      const providers = a.lists.get('provider')?.map((x) => bdf(x, '--provider'));
      if (!providers && c.input.format === 'lspci') throw new UsageError('find: lspci output cannot show p2pmem; name the candidate providers with --provider <BDF>');
      const r = runFind(c.spec, clients, providers, c, c.cpu);
      io.out(c.json ? `${JSON.stringify(r, null, 2)}\n` : renderFind(r));
      return r.chosen ? EXIT_OK : EXIT_NO;
    }
    case 'matrix': {
      const a = parse(command, rest);
      const c = common(a, command);
      const eps = a.lists.get('endpoint')?.map((x) => bdf(x, '--endpoint'));
      const r = runMatrix(c.spec, eps, c, c.cpu);
      io.out(c.json ? `${JSON.stringify(r, null, 2)}\n` : renderMatrix(r));
      return EXIT_OK;
    }
    case 'iommu-groups': {
      const a = parse(command, rest);
      const c = common(a, command);
      const r = runIommuGroups(c.spec, c.cmdline);
      io.out(c.json ? `${JSON.stringify(r, null, 2)}\n` : renderIommuGroups(r));
      return EXIT_OK;
    }
    case 'render': {
      const a = parse(command, rest);
      const c = common(a, command);
      const file = a.values.get('out');
      if (!file) throw new UsageError('render: -o <file.svg> is required');
      const m = bootMachine(c.spec, c);
      const t = topologyJson(m, c.input, c.cpu);
      const pathArg = a.values.get('path');
      let check: ReturnType<typeof runCheck> | undefined;
      if (pathArg !== undefined) {
        const ends = pathArg.split(',');
        if (ends.length !== 2) throw new UsageError(`render: --path takes two BDFs separated by a comma (got '${pathArg}')`);
        check = runCheck(c.spec, bdf(ends[1]!, '--path'), [bdf(ends[0]!, '--path')], c);
      }
      try {
        writeFileSync(file, renderSvg(t, check));
      } catch (e) {
        throw new UsageError(`cannot write '${file}': ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
      }
      io.out(c.json ? `${JSON.stringify({ schema: 'p2pdma-cli/render/v1', file, devices: t.devices.length, path: check?.clients[0]?.path ?? null }, null, 2)}\n` : `wrote ${file} (${t.devices.length} devices${check ? `, path ${check.clients[0]!.path.join(' → ')}` : ''})\n`);
      return EXIT_OK;
    }
    case 'route': {
      const a = parse(command, rest);
      const c = common(a, command);
      const fromArg = a.values.get('from');
      const toArg = a.values.get('to');
      if (!fromArg || !toArg) throw new UsageError('route: --from <BDF> and --to <BDF> are required');
      const m = bootMachine(c.spec, c);
      const bytes = intOpt(a.values.get('bytes'), 'bytes', 4096, 1, 1 << 26);
      const barArg = a.values.get('bar');
      const pattern = new Uint8Array(bytes);
      m.kernel.rng.fill(pattern);
      const r = routeDma(
        m,
        {
          from: bdf(fromArg, '--from'),
          to: bdf(toArg, '--to'),
          ...(barArg !== undefined ? { bar: intOpt(barArg, 'bar', 0, 0, 5) } : {}),
          offset: intOpt(a.values.get('offset'), 'offset', 0, 0, 2 ** 48),
          bytes,
          address: (a.values.get('address') as 'bus' | 'cpu') ?? 'bus',
        },
        pattern,
      );
      io.out(c.json ? `${JSON.stringify(r, null, 2)}\n` : renderRoute(r));
      return r.landed ? EXIT_OK : EXIT_NO;
    }
    case 'simulate': {
      const a = parse(command, rest);
      if (a.positionals.length !== 1) throw new UsageError(a.positionals.length === 0 ? 'simulate: missing <scenario> (builtin:nvmf-p2p-offload or a scenario file)' : `simulate: unexpected argument '${a.positionals[1]}'`);
      const policy = a.values.get('policy') as 'v2' | 'upstream' | undefined;
      const json = a.flags.has('json');
      // A progress bar on stderr: a terminal only, never with --json, drawn once the run is past a second.
      const bar = io.errIsTTY && !json ? new ProgressBar({ write: (s) => io.err(s), now: io.now ?? (() => performance.now()) }, 'I/Os') : null;
      let r: ReturnType<typeof runSimulate>;
      try {
        r = runSimulate(a.positionals[0]!, { ...(policy !== undefined ? { policy } : {}), ...(bar ? { onProgress: (p) => bar.update(p.done, p.total, p.placement) } : {}) });
      } finally {
        bar?.finish();
      }
      io.out(json ? `${JSON.stringify(r, null, 2)}\n` : renderSimulate(r));
      return r.verified ? EXIT_OK : EXIT_NO;
    }
    default:
      if (/^--?[a-zA-Z]/.test(command)) throw optionBeforeCommand(command);
      throw new UsageError(`unknown command '${command}' (try: p2pdma help)`);
  }
}

/** Control characters an error message may quote from an argument, and how they are shown. */
const CONTROL_ESCAPES: Record<string, string> = { '\n': '\\n', '\r': '\\r' };

/** Keep a user error on one line: line breaks (and other control characters) quoted from the input are escaped. */
function oneLine(message: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return message.replace(/[\u0000-\u0008\u000a-\u001f\u007f]/g, (c) => CONTROL_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * Run the `p2pdma` command.
 * @param argv the arguments after the program name
 * @param io where to write
 * @returns the exit code: 0 success, 1 a negative answer, 2 bad input (one line on stderr)
 */
export function main(argv: readonly string[], io: CliIo): number {
  try {
    return run(argv, io);
  } catch (e) {
    if (e instanceof UsageError) {
      io.err(`p2pdma: ${oneLine(e.message)}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
}
