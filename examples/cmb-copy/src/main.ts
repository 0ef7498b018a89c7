/**
 * The program: `node dist/main.js [--json] [--size <bytes>[K|M|G]] [--seed <n>] [--policy v2|upstream]`.
 * Copies the data set from the P3700's namespace to the NoLoad's through the NoLoad's CMB, and
 * again through a System RAM bounce buffer; prints both with their DRAM, root-complex and
 * per-link bytes; exits 0 when both destinations hold exactly the source's bytes, 1 when one does
 * not (naming the first differing offset), 2 on bad arguments. The command line, the exit codes
 * and the stderr lines are `@p2pdma/cli`'s `runProgram`.
 *
 * @kernel — (a user-space program)
 */
import type { ProgramIo } from '@p2pdma/cli';
import { EXIT_NO, runIfEntryPoint, runProgram, UsageError } from '@p2pdma/cli';
import type { CmbCopyOptions } from './cmb-copy';
import { CMB_COPY_POLICIES, DEFAULT_CMB_COPY_SEED, DEFAULT_CMB_COPY_SIZE, runCmbCopy } from './cmb-copy';
import { cmbCopyJson, renderCmbCopy } from './report';

export { EXIT_OK, EXIT_USAGE, parseSize } from '@p2pdma/cli';
/** Exit code: a copy's data or commands failed, or a run could not be set up. */
export const EXIT_FAILED = EXIT_NO;

/** Where the program writes. */
export type MainIo = ProgramIo;

const PROG = 'cmb-copy';

/** One-screen usage text. */
export const USAGE = `usage: ${PROG} [--json] [--size <bytes>[K|M|G]] [--seed <n>] [--policy v2|upstream]
  --size    bytes to copy, a multiple of 128K (default ${DEFAULT_CMB_COPY_SIZE / 2 ** 20}M)
  --seed    seed of the data set and the kernel RNG (default ${DEFAULT_CMB_COPY_SEED})
  --policy  P2PDMA rules: v2 (4.16 + the 2018 series) or upstream (Linux 6.6, default)
  --json    print the result as JSON
`;

/**
 * Runs the program.
 * @param argv the arguments (without `node` and the script).
 * @param io where to write.
 * @param testHooks TEST ONLY: `afterRead` passed to {@link runCmbCopy}; the command line cannot set it.
 * @returns {@link EXIT_OK}, {@link EXIT_FAILED} or {@link EXIT_USAGE}.
 */
export function main(argv: readonly string[], io: MainIo, testHooks: Pick<CmbCopyOptions, 'afterRead'> = {}): number {
  return runProgram<CmbCopyOptions, ReturnType<typeof runCmbCopy>>(
    {
      prog: PROG,
      usage: USAGE,
      options: {
        '--policy': (v) => {
          const policy = CMB_COPY_POLICIES.find((x) => x === v);
          if (policy === undefined) throw new UsageError(`--policy '${v}': expected one of ${CMB_COPY_POLICIES.join(', ')}`);
          return { policy };
        },
      },
      run: (opts) => runCmbCopy({ ...opts, ...testHooks }),
      text: renderCmbCopy,
      json: cmbCopyJson,
      failures: (result) => result.runs.filter((r) => !r.verified).map((r) => `${r.staging}: ${r.error}`),
    },
    argv,
    io,
  );
}

runIfEntryPoint(import.meta.url, main);
