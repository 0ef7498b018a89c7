#!/usr/bin/env node
/**
 * The `p2pdma` executable: runs {@link main} with the process's arguments and streams.
 */
import { main } from './main';

process.exitCode = main(process.argv.slice(2), {
  out: (s) => process.stdout.write(s),
  err: (s) => process.stderr.write(s),
  isTTY: Boolean(process.stdout.isTTY),
  errIsTTY: Boolean(process.stderr.isTTY),
  now: () => performance.now(),
});
