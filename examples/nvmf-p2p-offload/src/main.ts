/**
 * The program: `node dist/main.js [--json] [--size <bytes>[K|M|G]] [--seed <n>] [--topology <builtin>]`. Runs the six
 * runs of {@link runOffloadExample}, prints the comparison table (or JSON), and exits 0 when every
 * run that could be set up read back exactly what it wrote, 1 when any byte or command differed
 * (naming the first differing offset), 2 on bad arguments.
 *
 * @kernel — (a user-space program)
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { OffloadOptions } from './offload';
import { DEFAULT_OFFLOAD_SEED, DEFAULT_OFFLOAD_SIZE, OFFLOAD_TOPOLOGY, runOffloadExample } from './offload';
import { offloadJson, renderOffloadTable } from './report';

/** Exit code: every run verified. */
export const EXIT_OK = 0;
/** Exit code: a run's data or commands failed. */
export const EXIT_FAILED = 1;
/** Exit code: bad arguments. */
export const EXIT_USAGE = 2;

/** The program's name in its messages. */
const PROG = 'nvmf-p2p-offload';

/** One-screen usage text. */
export const USAGE = `usage: ${PROG} [--json] [--size <bytes>[K|M|G]] [--seed <n>] [--topology <builtin>]
  --size      bytes written and read back per run, a multiple of 64K (default ${DEFAULT_OFFLOAD_SIZE / 2 ** 20}M)
  --seed      seed of the data set and the kernel RNG (default ${DEFAULT_OFFLOAD_SEED})
  --topology  a built-in machine with the same devices (default ${OFFLOAD_TOPOLOGY}; try root-ports)
  --json      print the result as JSON
`;

/** Where the program writes. */
export interface MainIo {
  /** Standard output. */
  out(s: string): void;
  /** Standard error. */
  err(s: string): void;
}

/** Size suffixes: binary multiples. */
const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 };

/**
 * Parses `--size`: a decimal number of bytes with an optional `K`, `M` or `G` (binary) suffix.
 * @param s the argument.
 * @returns the bytes, or `null` when it is not of that form.
 */
export function parseSize(s: string): number | null {
  const m = /^(\d+)([KMG]?)$/i.exec(s);
  if (m === null) return null;
  const n = Number(m[1]) * (SIZE_UNITS[(m[2] ?? '').toUpperCase()] ?? 1);
  return Number.isSafeInteger(n) ? n : null;
}

class UsageError extends Error {}

interface Args {
  json: boolean;
  help: boolean;
  size?: number;
  seed?: number;
  topology?: string;
}

function parseArgs(argv: readonly string[]): Args {
  const o: Args = { json: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const [name, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? argv[++i];
      if (v === undefined || v === '') throw new UsageError(`option ${name} needs a value`);
      return v;
    };
    if (name === '--json' && inline === undefined) o.json = true;
    else if ((name === '--help' || name === '-h') && inline === undefined) o.help = true;
    else if (name === '--size') {
      const v = value();
      const n = parseSize(v);
      if (n === null) throw new UsageError(`--size '${v}': expected a number of bytes with an optional K, M or G suffix`);
      o.size = n;
    } else if (name === '--seed') {
      const v = value();
      if (!/^\d+$/.test(v)) throw new UsageError(`--seed '${v}': expected a non-negative integer`);
      o.seed = Number(v);
    } else if (name === '--topology') {
      const v = value();
      o.topology = v.startsWith('builtin:') ? v.slice('builtin:'.length) : v;
    } else throw new UsageError(`unknown argument '${a}'`);
  }
  return o;
}

/**
 * Runs the program.
 * @param argv the arguments (without `node` and the script).
 * @param io where to write.
 * @param testHooks TEST ONLY: `afterWritePhase` passed to {@link runOffloadExample} (to inject a
 *   corruption and check the exit code); the command line cannot set it.
 * @returns the exit code: {@link EXIT_OK}, {@link EXIT_FAILED} or {@link EXIT_USAGE}.
 */
export function main(argv: readonly string[], io: MainIo, testHooks: Pick<OffloadOptions, 'afterWritePhase'> = {}): number {
  let args: Args;
  try {
    args = parseArgs(argv);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    io.err(`${PROG}: ${e.message}\n`);
    return EXIT_USAGE;
  }
  if (args.help) {
    io.out(USAGE);
    return EXIT_OK;
  }
  let result: ReturnType<typeof runOffloadExample>;
  try {
    result = runOffloadExample({
      ...(args.size !== undefined ? { size: args.size } : {}),
      ...(args.seed !== undefined ? { seed: args.seed } : {}),
      ...(args.topology !== undefined ? { topology: args.topology } : {}),
      ...testHooks,
    });
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    io.err(`${PROG}: ${e.message}\n`);
    return EXIT_USAGE;
  }
  io.out(args.json ? offloadJson(result) : renderOffloadTable(result));
  // A run that could not be set up is shown with its reason; a run that ran and lost or changed
  // data fails the program.
  const failed = result.rows.filter((r) => r.ios > 0 && !r.verified);
  for (const r of failed) io.err(`${PROG}: ${r.placement}/${r.policy}: verification failed: ${r.error}\n`);
  return failed.length > 0 ? EXIT_FAILED : EXIT_OK;
}

function isEntryPoint(): boolean {
  const script = process.argv[1];
  if (script === undefined) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

if (isEntryPoint()) {
  process.exitCode = main(process.argv.slice(2), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) });
}
