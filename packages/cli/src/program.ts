/**
 * The skeleton of a small one-shot program built on this package (the examples' `main.ts`): a
 * fixed command line (`--json`, `--help`/`-h`, `--size <bytes>[K|M|G]`, `--seed <n>`, plus the
 * program's own value options from a table), one run, the text or JSON report on stdout, one
 * stderr line per failure, and the exit codes of the `p2pdma` command ({@link EXIT_OK} when
 * nothing failed, {@link EXIT_NO} when something did, {@link EXIT_USAGE} for bad arguments).
 *
 * @kernel — (user-space programs)
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { UsageError } from './args';
import { EXIT_NO, EXIT_OK, EXIT_USAGE } from './main';

/** Where a program writes. */
export interface ProgramIo {
  /** Standard output (the report). */
  out(s: string): void;
  /** Standard error (usage errors, failures). */
  err(s: string): void;
}

/** The run options every program takes from its command line. */
export interface ProgramRunOptions {
  /** Bytes, from `--size`. */
  readonly size?: number;
  /** Seed, from `--seed`. */
  readonly seed?: number;
}

/**
 * Parses one value option: the value (never empty) to the fields it sets in the run options.
 * Throws {@link UsageError} naming the option and the reason for a bad value.
 */
export type ProgramOptionParser<O> = (value: string) => Partial<O>;

/** A program: its name, usage, extra options, the run and how its result is reported. */
export interface ProgramSpec<O extends ProgramRunOptions, R> {
  /** The program's name, prefixed to every stderr line (`<prog>: <message>`). */
  readonly prog: string;
  /** The usage text `--help` prints, verbatim. */
  readonly usage: string;
  /**
   * Value options besides `--size` and `--seed`, by full name (`'--policy'`); each is given as
   * `--name value` or `--name=value`, a later one overriding an earlier one.
   */
  readonly options?: Readonly<Record<string, ProgramOptionParser<O>>>;
  /**
   * The run, with the options the command line set (only those). Throws RangeError naming the
   * option and the reason for options it refuses (exit {@link EXIT_USAGE}); any other throw is a
   * bug and propagates.
   */
  run(options: Partial<O>): R;
  /** The text report (stdout). */
  text(result: R): string;
  /** The JSON report (stdout, with `--json`). */
  json(result: R): string;
  /** One message per failure (without the program prefix or newline); none means success. */
  failures(result: R): readonly string[];
}

/** Size suffixes: binary multiples. */
const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, K: 2 ** 10, M: 2 ** 20, G: 2 ** 30 };

/**
 * Parses a byte count: a decimal number with an optional `K`, `M` or `G` (binary, any case) suffix.
 * @param s the argument.
 * @returns the bytes, or `null` when it is not of that form or not a safe integer.
 */
export function parseSize(s: string): number | null {
  const m = /^(\d+)([KMG]?)$/i.exec(s);
  if (m === null) return null;
  const n = Number(m[1]) * (SIZE_UNITS[(m[2] ?? '').toUpperCase()] ?? 1);
  return Number.isSafeInteger(n) ? n : null;
}

/** The value options every program takes. */
const COMMON_OPTIONS: Readonly<Record<string, ProgramOptionParser<ProgramRunOptions>>> = {
  '--size': (v) => {
    const size = parseSize(v);
    if (size === null) throw new UsageError(`--size '${v}': expected a number of bytes with an optional K, M or G suffix`);
    return { size };
  },
  '--seed': (v) => {
    if (!/^\d+$/.test(v)) throw new UsageError(`--seed '${v}': expected a non-negative integer`);
    return { seed: Number(v) };
  },
};

/** The flags every program takes (never with `=value`). */
const FLAGS: Readonly<Record<string, 'json' | 'help'>> = { '--json': 'json', '--help': 'help', '-h': 'help' };

/** A parsed command line. */
interface ProgramArgs<O> {
  json: boolean;
  help: boolean;
  options: Partial<O>;
}

function parseProgramArgs<O extends ProgramRunOptions>(argv: readonly string[], extra: Readonly<Record<string, ProgramOptionParser<O>>>): ProgramArgs<O> {
  const args: ProgramArgs<O> = { json: false, help: false, options: {} };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? '';
    const eq = a.startsWith('--') ? a.indexOf('=') : -1;
    const name = eq < 0 ? a : a.slice(0, eq);
    const inline = eq < 0 ? undefined : a.slice(eq + 1);
    const flag = inline === undefined ? FLAGS[name] : undefined;
    if (flag !== undefined) {
      args[flag] = true;
      continue;
    }
    const parse = Object.hasOwn(COMMON_OPTIONS, name) ? COMMON_OPTIONS[name] : Object.hasOwn(extra, name) ? extra[name] : undefined;
    if (parse === undefined) throw new UsageError(`unknown argument '${a}'`);
    const value = inline ?? argv[++i];
    if (value === undefined || value === '') throw new UsageError(`option ${name} needs a value`);
    Object.assign(args.options, parse(value));
  }
  return args;
}

/**
 * Runs a program: parses `argv`, prints the usage for `--help`, else runs once and prints the
 * report, then one `<prog>: <failure>` line on stderr per failure.
 * @param spec the program.
 * @param argv the arguments (without `node` and the script).
 * @param io where to write; nothing is written to stdout on a usage error.
 * @returns {@link EXIT_OK}; {@link EXIT_NO} when `spec.failures` named any; {@link EXIT_USAGE}
 *   (and one stderr line naming the argument and the reason) for a bad argument or a RangeError
 *   from `spec.run`.
 * @throws whatever `spec.run` or the reports throw other than RangeError (program bugs).
 */
export function runProgram<O extends ProgramRunOptions, R>(spec: ProgramSpec<O, R>, argv: readonly string[], io: ProgramIo): number {
  let args: ProgramArgs<O>;
  let result: R;
  try {
    args = parseProgramArgs(argv, spec.options ?? {});
    if (args.help) {
      io.out(spec.usage);
      return EXIT_OK;
    }
    result = spec.run(args.options);
  } catch (e) {
    if (!(e instanceof UsageError) && !(e instanceof RangeError)) throw e;
    io.err(`${spec.prog}: ${e.message}\n`);
    return EXIT_USAGE;
  }
  io.out(args.json ? spec.json(result) : spec.text(result));
  const failures = spec.failures(result);
  for (const f of failures) io.err(`${spec.prog}: ${f}\n`);
  return failures.length > 0 ? EXIT_NO : EXIT_OK;
}

/**
 * Whether a module is the script node was started with (not imported by a test or a bundle).
 * @param moduleUrl the module's `import.meta.url`.
 * @param script the script path (default `process.argv[1]`); symlinks are resolved.
 * @returns true when both name the same file; false when there is no script or it cannot be
 *   resolved.
 */
export function isEntryPoint(moduleUrl: string, script: string | undefined = process.argv[1]): boolean {
  if (script === undefined) return false;
  try {
    return moduleUrl === pathToFileURL(realpathSync(script)).href;
  } catch {
    return false;
  }
}

/**
 * Runs `main` with the process's arguments and standard streams, and sets `process.exitCode` to
 * its result, when the calling module is the entry point ({@link isEntryPoint}); else nothing.
 * @param moduleUrl the calling module's `import.meta.url`.
 * @param main the program's main function.
 * @returns whether it ran.
 */
export function runIfEntryPoint(moduleUrl: string, main: (argv: readonly string[], io: ProgramIo) => number): boolean {
  if (!isEntryPoint(moduleUrl)) return false;
  process.exitCode = main(process.argv.slice(2), { out: (s) => process.stdout.write(s), err: (s) => process.stderr.write(s) });
  return true;
}
