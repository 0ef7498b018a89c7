// Runs every workspace package's tests through Turborepo, then sums the vitest JSON
// reports into one closing line: "N passed, N failed".
// A package whose test task failed without writing a report (a build or config error)
// counts as one failed test, so a broken package can never look green.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';

const root = new URL('../..', import.meta.url).pathname;
const groups = ['packages', 'examples', 'tooling', '.'];
const pkgDirs = groups.flatMap((g) => {
  const base = join(root, g);
  if (!existsSync(base)) return [];
  return readdirSync(base, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(base, d.name, 'package.json')))
    .map((d) => join(base, d.name));
});
const withTests = pkgDirs.filter((d) => {
  const pkg = JSON.parse(readFileSync(join(d, 'package.json'), 'utf8'));
  return pkg.scripts?.test;
});
for (const d of withTests) rmSync(join(d, '.vitest-report.json'), { force: true });

const extra = process.argv.slice(2);
const turbo = spawnSync(
  'pnpm',
  ['exec', 'turbo', 'run', 'test', '--continue', '--concurrency=1', ...extra],
  { cwd: root, stdio: 'inherit', env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1', DO_NOT_TRACK: '1' } },
);

let passed = 0;
let failed = 0;
let skipped = 0;
const missing = [];
const filtered = extra.some((a) => a.startsWith('--filter'));
for (const d of withTests) {
  const file = join(d, '.vitest-report.json');
  if (!existsSync(file)) {
    if (!filtered) missing.push(d.slice(root.length));
    continue;
  }
  const r = JSON.parse(readFileSync(file, 'utf8'));
  passed += r.numPassedTests;
  failed += r.numFailedTests;
  skipped += r.numPendingTests + (r.numTodoTests ?? 0);
  // A suite that failed to load (syntax error, bad import) has no tests but did fail.
  if (r.numFailedTestSuites > 0 && r.numFailedTests === 0) failed += r.numFailedTestSuites;
}
for (const m of missing) console.error(`no test report from ${m}: its test task did not run to the end`);
failed += missing.length;
const code = turbo.status !== 0 || failed > 0 ? 1 : 0;
console.log(`${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`);
process.exit(code);
