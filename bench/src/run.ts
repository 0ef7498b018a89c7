/**
 * `pnpm bench`: runs the benchmark suite, prints the table and writes `bench/results.json`.
 *
 * Usage: `node bench/dist/run.js [--quick] [--out <file>]`. `--quick` uses the test sizes
 * (seconds; the figures are not meaningful). Exit status 1 when a figure fails (a stack
 * read-back that differs from what was written, a setup error); missed targets are reported in
 * the table and in `results.json`, not as a failure.
 */
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { StackVerifyError } from './stack';
import { QUICK_SUITE, runSuite } from './suite';

/** `bench/results.json`: the package folder is the parent of this file's folder (`dist/` or `src/`). */
const DEFAULT_OUT = resolve(dirname(fileURLToPath(import.meta.url)), '..', 'results.json');

function parseArgs(argv: readonly string[]): { quick: boolean; out: string } | string {
  let quick = false;
  let out = DEFAULT_OUT;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--quick') quick = true;
    else if (a === '--out') {
      const v = argv[++i];
      if (v === undefined) return '--out needs a file path';
      out = resolve(v);
    } else return `unknown argument '${a}' (expected --quick, --out <file>)`;
  }
  return { quick, out };
}

function main(): number {
  const args = parseArgs(process.argv.slice(2));
  if (typeof args === 'string') {
    process.stderr.write(`bench: ${args}\n`);
    return 2;
  }
  try {
    const { table, results } = runSuite({ ...(args.quick ? QUICK_SUITE : {}), out: args.out, progress: (l) => process.stderr.write(`bench: ${l}\n`) });
    const m = results.meta;
    const wall = m.durationsMs['total'] ?? 0;
    const cpu = m.cpuMs['total'] ?? 0;
    const share = wall > 0 ? Math.round((100 * cpu) / wall) : 0;
    process.stdout.write(
      `${table}\n\n${m.cpuCount} × ${m.cpuModel}, Node ${m.node}; load average ${m.loadAverage.start.toFixed(1)} → ${m.loadAverage.end.toFixed(1)}; ` +
        `${(cpu / 1000).toFixed(1)} s CPU in ${(wall / 1000).toFixed(1)} s (${share}% of one core)\nwrote ${args.out}\n`,
    );
    return 0;
  } catch (e) {
    const what = e instanceof StackVerifyError ? 'DATA VERIFICATION FAILED' : 'failed';
    process.stderr.write(`bench: ${what}: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
}

process.exitCode = main();
