/** Shared harness for the CLI tests: runs `main` with in-memory stdout/stderr. */
import { type CliIo, main } from '../src/index';

/** What one command run printed and returned. */
export interface RunResult {
  code: number;
  out: string;
  err: string;
}

/**
 * Run the `p2pdma` command in-process.
 * @param argv the arguments after the program name
 * @returns the exit code and everything written to stdout and stderr
 */
export function run(...argv: string[]): RunResult {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (s) => {
      out += s;
    },
    err: (s) => {
      err += s;
    },
    isTTY: false,
  };
  return { code: main(argv, io), out, err };
}
