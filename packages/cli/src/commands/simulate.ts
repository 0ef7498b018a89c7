/**
 * `p2pdma simulate <scenario> [--policy v2|upstream] [--json]`: run a built-in scenario
 * (`builtin:<name>`) or a scenario file (see `../scenario-file`) and print, per buffer placement,
 * the DRAM and root-complex bytes, the bytes on every link, the predicted throughput with its
 * bottleneck, and whether every byte read back matched.
 */
import { UsageError } from '../args';
import { humanBytes } from '../format';
import type { ScenarioOptions, ScenarioReport } from '../scenario';
import { BUILTIN_SCENARIOS, runScenario, scenarioByName } from '../scenario';
import { loadScenarioFile } from '../scenario-file';

/**
 * Run `simulate` for a command-line scenario argument.
 * @param arg `builtin:<name>`, or a scenario file (`p2pdma-cli/scenario/v1`).
 * @param opts options that override the file's (the command passes `policy` only when `--policy`
 *   is given) and the progress callback.
 * @returns the report (a fresh object).
 * @throws UsageError for an unknown built-in, an unreadable file, or a file that does not validate
 *   (`<file>: <JSON path>: <reason>`); nothing has run then.
 */
export function runSimulate(arg: string, opts: ScenarioOptions): ScenarioReport {
  const known = Object.keys(BUILTIN_SCENARIOS).map((k) => `builtin:${k}`).join(', ');
  if (arg.startsWith('builtin:')) {
    const s = scenarioByName(arg);
    if (s === null) throw new UsageError(`simulate: unknown scenario '${arg}' (known: ${known})`);
    return runScenario(s, opts);
  }
  const f = loadScenarioFile(arg);
  if (!f.ok) {
    const hint = f.error.endsWith(': no such file') && scenarioByName(arg) !== null ? ` (did you mean builtin:${arg}?)` : '';
    throw new UsageError(`simulate: ${f.error}${hint}`);
  }
  return runScenario(f.file.scenario, { ...f.file.options, ...opts });
}

/**
 * Render a scenario report as text.
 * @param r the report.
 * @returns the text, ending in a newline.
 */
export function renderSimulate(r: ScenarioReport): string {
  const out: string[] = [
    `scenario ${r.scenario} on ${r.topology}, policy ${r.policy}: ${r.ios} writes then ${r.reads} reads of ${humanBytes(r.ioBytes)} (${humanBytes(r.dataBytes)} written, ${humanBytes(r.reads * r.ioBytes)} read) per placement${r.queueDepth > 1 ? `, queue depth ${r.queueDepth}` : ''}`,
  ];
  for (const p of r.placements) {
    out.push('');
    out.push(`${p.placement}: drive ${p.drive || '-'}${p.provider !== null ? `, p2pmem from ${p.provider}` : ''} — ${p.verified ? 'verified: every byte read back matched' : `NOT VERIFIED: ${p.error ?? 'unknown'}`}`);
    if (p.error !== null && p.links.length === 0) continue;
    out.push(`  DRAM ${humanBytes(p.dramBytes)} (write ${humanBytes(p.phases.write.dramBytes)}, read ${humanBytes(p.phases.read.dramBytes)}); root complex ${humanBytes(p.rootComplexBytes)}; P2P buffers ${p.p2pBuffers}`);
    for (const l of p.links) out.push(`  link ${l.link}: up ${humanBytes(l.upBytes)}, down ${humanBytes(l.downBytes)}`);
    out.push(`  predicted ${p.throughputGBps.toFixed(2)} GB/s, bottleneck: ${p.bottleneck}`);
  }
  out.push('');
  out.push(r.verified ? 'all placements verified' : 'some placements did not verify');
  return `${out.join('\n')}\n`;
}
