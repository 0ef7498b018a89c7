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
import { type LoadedTopology, loadTopology } from './input';
import { bootMachine } from './machine';

/** Where a command writes. */
export interface CliIo {
  out(s: string): void;
  err(s: string): void;
  /** Whether stdout is a terminal (colour, progress bars). */
  isTTY: boolean;
}

/** Exit codes: 0 success / supported, 1 a negative answer, 2 bad input. */
export const EXIT_OK = 0;
/** A negative answer (not supported, bytes did not land). */
export const EXIT_NO = 1;
/** Bad input: usage, unknown device or builtin, unreadable file. */
export const EXIT_USAGE = 2;

const COMMON: Record<string, OptionSpec> = {
  policy: { kind: 'value', choices: ['v2', 'upstream'] },
  json: { kind: 'flag' },
  iommu: { kind: 'value', choices: ['on', 'off'] },
  cpu: { kind: 'value', choices: ['amd-zen', 'intel', 'other'] },
  cmdline: { kind: 'value' },
};

/** What `--cpu` sets in the topology (the upstream AMD Zen rule reads vendor and family). */
const CPU_CHOICES: Record<string, { vendor: 'amd' | 'intel' | 'other'; family?: number }> = {
  'amd-zen': { vendor: 'amd', family: 0x17 },
  intel: { vendor: 'intel' },
  other: { vendor: 'other' },
};

const BDF_RE = /^([0-9a-fA-F]{4,5}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;

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
  simulate builtin:nvmf-p2p-offload [--policy v2|upstream] [--json]
                                          remote writes and reads through the NVMe-oF target per
                                          buffer placement: bytes per link, throughput, verified
  help                                    this text

common options: --policy v2|upstream (default upstream), --iommu on|off, --json,
  --cpu amd-zen|intel|other (default: from the topology), --cmdline '<kernel command line>'
exit codes: 0 yes / done, 1 no (not supported, nothing found, bytes did not land), 2 bad input
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
  spec: LoadedTopology['spec'];
  policy: 'v2' | 'upstream';
  iommu?: boolean;
  cmdline?: string;
  json: boolean;
}

function common(a: ReturnType<typeof parseArgs>, command: string): Common {
  const input = loadTopology(oneTopology(a.positionals, command));
  const cpu = a.values.get('cpu');
  const spec = cpu ? { ...input.spec, cpu: CPU_CHOICES[cpu]! } : input.spec;
  const iommu = a.values.get('iommu');
  const cmdline = a.values.get('cmdline');
  return {
    input,
    spec,
    policy: (a.values.get('policy') as 'v2' | 'upstream') ?? 'upstream',
    ...(iommu ? { iommu: iommu === 'on' } : {}),
    ...(cmdline !== undefined ? { cmdline } : {}),
    json: a.flags.has('json'),
  };
}

const LIST_OF_BDFS: OptionSpec = { kind: 'list', continueIf: BDF_RE };

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
      const a = parseArgs(rest, COMMON, command);
      const c = common(a, command);
      const m = bootMachine(c.spec, c);
      const t = topologyJson(m, c.input);
      io.out(c.json ? `${JSON.stringify(t, null, 2)}\n` : renderTopology(t));
      return EXIT_OK;
    }
    case 'check': {
      const a = parseArgs(rest, { ...COMMON, provider: { kind: 'value' }, client: LIST_OF_BDFS }, command);
      const c = common(a, command);
      const provider = a.values.get('provider');
      const clients = a.lists.get('client') ?? [];
      if (!provider) throw new UsageError('check: --provider <BDF> is required');
      if (clients.length === 0) throw new UsageError('check: at least one --client <BDF> is required');
      const r = runCheck(c.spec, bdf(provider, '--provider'), clients.map((x) => bdf(x, '--client')), c);
      io.out(c.json ? `${JSON.stringify(r, null, 2)}\n` : renderCheck(r));
      return r.supported ? EXIT_OK : EXIT_NO;
    }
    case 'find': {
      const a = parseArgs(rest, { ...COMMON, provider: LIST_OF_BDFS, client: LIST_OF_BDFS }, command);
      const c = common(a, command);
      const clients = (a.lists.get('client') ?? []).map((x) => bdf(x, '--client'));
      if (clients.length === 0) throw new UsageError('find: at least one --client <BDF> is required');
      const providers = a.lists.get('provider')?.map((x) => bdf(x, '--provider'));
      if (!providers && c.input.format === 'lspci') throw new UsageError('find: lspci output cannot show p2pmem; name the candidate providers with --provider <BDF>');
      const r = runFind(c.spec, clients, providers, c);
      io.out(c.json ? `${JSON.stringify(r, null, 2)}\n` : renderFind(r));
      return r.chosen ? EXIT_OK : EXIT_NO;
    }
    case 'matrix': {
      const a = parseArgs(rest, { ...COMMON, endpoint: LIST_OF_BDFS }, command);
      const c = common(a, command);
      const eps = a.lists.get('endpoint')?.map((x) => bdf(x, '--endpoint'));
      const r = runMatrix(c.spec, eps, c);
      io.out(c.json ? `${JSON.stringify(r, null, 2)}\n` : renderMatrix(r));
      return EXIT_OK;
    }
    case 'iommu-groups': {
      const a = parseArgs(rest, COMMON, command);
      const c = common(a, command);
      const r = runIommuGroups(c.spec, c.cmdline);
      io.out(c.json ? `${JSON.stringify(r, null, 2)}\n` : renderIommuGroups(r));
      return EXIT_OK;
    }
    case 'render': {
      const a = parseArgs(rest, { ...COMMON, path: { kind: 'value' }, out: { kind: 'value', short: 'o' } }, command);
      const c = common(a, command);
      const file = a.values.get('out');
      if (!file) throw new UsageError('render: -o <file.svg> is required');
      const m = bootMachine(c.spec, c);
      const t = topologyJson(m, c.input);
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
      const a = parseArgs(rest, { ...COMMON, from: { kind: 'value' }, to: { kind: 'value' }, bar: { kind: 'value' }, offset: { kind: 'value' }, bytes: { kind: 'value' }, address: { kind: 'value', choices: ['bus', 'cpu'] } }, command);
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
      const a = parseArgs(rest, { policy: COMMON.policy!, json: COMMON.json! }, command);
      if (a.positionals.length !== 1) throw new UsageError(a.positionals.length === 0 ? 'simulate: missing <scenario> (builtin:nvmf-p2p-offload)' : `simulate: unexpected argument '${a.positionals[1]}'`);
      const r = runSimulate(a.positionals[0]!, { policy: (a.values.get('policy') as 'v2' | 'upstream') ?? 'upstream' });
      io.out(a.flags.has('json') ? `${JSON.stringify(r, null, 2)}\n` : renderSimulate(r));
      return r.verified ? EXIT_OK : EXIT_NO;
    }
    default:
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
