/**
 * The program: `node dist/main.js [--json] [--size <bytes>[K|M|G]] [--seed <n>] [--policy v2|upstream]`.
 * Copies the data set from the P3700's namespace to the NoLoad's through the NoLoad's CMB, and
 * again through a System RAM bounce buffer; prints both with their DRAM, root-complex and
 * per-link bytes; exits 0 when both destinations hold exactly the source's bytes, 1 when one does
 * not (naming the first differing offset), 2 on bad arguments.
 *
 * @kernel — (a user-space program)
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import type { P2pdmaPolicy } from '@p2pdma/kernel';
import type { CmbCopyOptions } from './cmb-copy';
import { CMB_COPY_POLICIES, DEFAULT_CMB_COPY_SEED, DEFAULT_CMB_COPY_SIZE, runCmbCopy } from './cmb-copy';
import { cmbCopyJson, renderCmbCopy } from './report';

/** Exit code: every run verified. */
export const EXIT_OK = 0;
/** Exit code: a copy's data or commands failed, or a run could not be set up. */
export const EXIT_FAILED = 1;
/** Exit code: bad arguments. */
export const EXIT_USAGE = 2;

const PROG = 'cmb-copy';

/** One-screen usage text. */
export const USAGE = `usage: ${PROG} [--json] [--size <bytes>[K|M|G]] [--seed <n>] [--policy v2|upstream]
  --size    bytes to copy, a multiple of 128K (default ${DEFAULT_CMB_COPY_SIZE / 2 ** 20}M)
  --seed    seed of the data set and the kernel RNG (default ${DEFAULT_CMB_COPY_SEED})
  --policy  P2PDMA rules: v2 (4.16 + the 2018 series) or upstream (Linux 6.6, default)
  --json    print the result as JSON
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
  policy?: P2pdmaPolicy;
}

function parseArgs(argv: readonly string[]): Args {
  const o: Args = { json: false, help: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const name = eq < 0 ? a : a.slice(0, eq);
    const inline = eq < 0 ? undefined : a.slice(eq + 1);
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
    } else if (name === '--policy') {
      const v = value();
      const p = CMB_COPY_POLICIES.find((x) => x === v);
      if (p === undefined) throw new UsageError(`--policy '${v}': expected one of ${CMB_COPY_POLICIES.join(', ')}`);
      o.policy = p;
    } else throw new UsageError(`unknown argument '${a}'`);
  }
  return o;
}

/**
 * Runs the program.
 * @param argv the arguments (without `node` and the script).
 * @param io where to write.
 * @param testHooks TEST ONLY: `afterRead` passed to {@link runCmbCopy}; the command line cannot set it.
 * @returns {@link EXIT_OK}, {@link EXIT_FAILED} or {@link EXIT_USAGE}.
 */
export function main(argv: readonly string[], io: MainIo, testHooks: Pick<CmbCopyOptions, 'afterRead'> = {}): number {
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
  let result: ReturnType<typeof runCmbCopy>;
  try {
    result = runCmbCopy({
      ...(args.size !== undefined ? { size: args.size } : {}),
      ...(args.seed !== undefined ? { seed: args.seed } : {}),
      ...(args.policy !== undefined ? { policy: args.policy } : {}),
      ...testHooks,
    });
  } catch (e) {
    if (!(e instanceof RangeError)) throw e;
    io.err(`${PROG}: ${e.message}\n`);
    return EXIT_USAGE;
  }
  io.out(args.json ? cmbCopyJson(result) : renderCmbCopy(result));
  const failed = result.runs.filter((r) => !r.verified);
  for (const r of failed) io.err(`${PROG}: ${r.staging}: ${r.error}\n`);
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
