/**
 * The program: `node dist/main.js [--json] [--size <bytes>[K|M|G]] [--seed <n>] [--topology <builtin>]`. Runs the six
 * runs of {@link runOffloadExample}, prints the comparison table (or JSON), and exits 0 when every
 * run that could be set up read back exactly what it wrote, 1 when any byte or command differed
 * (naming the first differing offset), 2 on bad arguments. The command line, the exit codes and
 * the stderr lines are `@p2pdma/cli`'s `runProgram`.
 *
 * @kernel — (a user-space program)
 */
import type { ProgramIo } from '@p2pdma/cli';
import { EXIT_NO, runIfEntryPoint, runProgram } from '@p2pdma/cli';
import type { OffloadOptions } from './offload';
import { DEFAULT_OFFLOAD_SEED, DEFAULT_OFFLOAD_SIZE, OFFLOAD_TOPOLOGY, runOffloadExample } from './offload';
import { offloadJson, renderOffloadTable } from './report';

export { EXIT_OK, EXIT_USAGE, parseSize } from '@p2pdma/cli';
/** Exit code: a run's data or commands failed. */
export const EXIT_FAILED = EXIT_NO;

/** Where the program writes. */
export type MainIo = ProgramIo;

/** The program's name in its messages. */
const PROG = 'nvmf-p2p-offload';

/** One-screen usage text. */
export const USAGE = `usage: ${PROG} [--json] [--size <bytes>[K|M|G]] [--seed <n>] [--topology <builtin>]
  --size      bytes written and read back per run, a multiple of 64K (default ${DEFAULT_OFFLOAD_SIZE / 2 ** 20}M)
  --seed      seed of the data set and the kernel RNG (default ${DEFAULT_OFFLOAD_SEED})
  --topology  a built-in machine with the same devices (default ${OFFLOAD_TOPOLOGY}; try root-ports)
  --json      print the result as JSON
`;

/** The `builtin:` prefix `--topology` accepts, as the `p2pdma` command spells built-ins. */
const BUILTIN_PREFIX = 'builtin:';

/**
 * Runs the program.
 * @param argv the arguments (without `node` and the script).
 * @param io where to write.
 * @param testHooks TEST ONLY: `afterWritePhase` passed to {@link runOffloadExample} (to inject a
 *   corruption and check the exit code); the command line cannot set it.
 * @returns the exit code: {@link EXIT_OK}, {@link EXIT_FAILED} or {@link EXIT_USAGE}.
 */
export function main(argv: readonly string[], io: MainIo, testHooks: Pick<OffloadOptions, 'afterWritePhase'> = {}): number {
  return runProgram<OffloadOptions, ReturnType<typeof runOffloadExample>>(
    {
      prog: PROG,
      usage: USAGE,
      options: { '--topology': (v) => ({ topology: v.startsWith(BUILTIN_PREFIX) ? v.slice(BUILTIN_PREFIX.length) : v }) },
      run: (opts) => runOffloadExample({ ...opts, ...testHooks }),
      text: renderOffloadTable,
      json: offloadJson,
      // A run that could not be set up is shown with its reason; a run that ran and lost or
      // changed data fails the program.
      failures: (result) => result.rows.filter((r) => r.ios > 0 && !r.verified).map((r) => `${r.placement}/${r.policy}: verification failed: ${r.error}`),
    },
    argv,
    io,
  );
}

runIfEntryPoint(import.meta.url, main);
