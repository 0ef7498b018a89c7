/**
 * The `p2pdma` command: parses the command line, loads the topology, runs one command and
 * returns its exit code. User errors print one line and exit 2; nothing else is printed then.
 */
import { normalizeBdf, parseBdf } from '@p2pdma/pci-core';
import { type OptionSpec, parseArgs, UsageError } from './args';
import { renderRoute, routeDma } from './commands/route';
import { renderTopology, topologyJson } from './commands/topology';
import { loadTopology } from './input';
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
};

const BDF_RE = /^([0-9a-fA-F]{4,5}:)?[0-9a-fA-F]{2}:[0-9a-fA-F]{2}\.[0-7]$/;

/** Usage text printed by `p2pdma help`. */
export const USAGE = `usage: p2pdma <command> <topology> [options]

<topology> is builtin:<name>, a topology JSON file, or a saved \`lspci -vvv -nn\` output.

commands:
  topology <topo>                         the enumerated tree: port types, links, ACS, BARs, p2pmem
  route <topo> --from <BDF> --to <BDF>    one DMA write through the fabric, with bytes per link
        [--bar N] [--offset N] [--bytes N] [--address bus|cpu]
  help                                    this text

common options: --policy v2|upstream (default upstream), --iommu on|off, --json
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

function run(argv: readonly string[], io: CliIo): number {
  const [command, ...rest] = argv;
  switch (command) {
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      io.out(USAGE);
      return command === undefined ? EXIT_USAGE : EXIT_OK;
    case 'topology': {
      const a = parseArgs(rest, COMMON, command);
      const input = loadTopology(oneTopology(a.positionals, command));
      const iommu = a.values.get('iommu');
      const m = bootMachine(input.spec, { policy: (a.values.get('policy') as 'v2' | 'upstream') ?? 'upstream', ...(iommu ? { iommu: iommu === 'on' } : {}) });
      const t = topologyJson(m, input);
      io.out(a.flags.has('json') ? `${JSON.stringify(t, null, 2)}\n` : renderTopology(t));
      return EXIT_OK;
    }
    case 'route': {
      const a = parseArgs(rest, { ...COMMON, from: { kind: 'value' }, to: { kind: 'value' }, bar: { kind: 'value' }, offset: { kind: 'value' }, bytes: { kind: 'value' }, address: { kind: 'value', choices: ['bus', 'cpu'] } }, command);
      const input = loadTopology(oneTopology(a.positionals, command));
      const fromArg = a.values.get('from');
      const toArg = a.values.get('to');
      if (!fromArg || !toArg) throw new UsageError('route: --from <BDF> and --to <BDF> are required');
      const iommu = a.values.get('iommu');
      const m = bootMachine(input.spec, { policy: (a.values.get('policy') as 'v2' | 'upstream') ?? 'upstream', ...(iommu ? { iommu: iommu === 'on' } : {}) });
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
      io.out(a.flags.has('json') ? `${JSON.stringify(r, null, 2)}\n` : renderRoute(r));
      return r.landed ? EXIT_OK : EXIT_NO;
    }
    default:
      throw new UsageError(`unknown command '${command}' (try: p2pdma help)`);
  }
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
      io.err(`p2pdma: ${e.message}\n`);
      return EXIT_USAGE;
    }
    throw e;
  }
}
