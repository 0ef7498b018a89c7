/**
 * `p2pdma simulate builtin:<scenario> [--policy v2|upstream] [--json]`: run a scenario (see
 * `../scenario`) and print, per buffer placement, the DRAM and root-complex bytes, the bytes on
 * every link, the predicted throughput with its bottleneck, and whether every byte read back matched.
 */
import { UsageError } from '../args';
import { humanBytes } from '../format';
import type { ScenarioOptions, ScenarioReport } from '../scenario';
import { BUILTIN_SCENARIOS, runScenario, scenarioByName } from '../scenario';

/**
 * Run `simulate` for a command-line scenario argument.
 * @param arg `builtin:<name>` (only built-in scenarios exist).
 * @param opts policy, I/O size and count, seed.
 * @returns the report (a fresh object).
 * @throws UsageError for an argument that is not `builtin:` plus a known scenario name.
 */
export function runSimulate(arg: string, opts: ScenarioOptions): ScenarioReport {
  const known = Object.keys(BUILTIN_SCENARIOS).map((k) => `builtin:${k}`).join(', ');
  const s = arg.startsWith('builtin:') ? scenarioByName(arg) : null;
  if (s === null) throw new UsageError(`simulate: unknown scenario '${arg}' (known: ${known})`);
  return runScenario(s, opts);
}

/**
 * Render a scenario report as text.
 * @param r the report.
 * @returns the text, ending in a newline.
 */
export function renderSimulate(r: ScenarioReport): string {
  const out: string[] = [
    `scenario ${r.scenario} on ${r.topology}, policy ${r.policy}: ${r.ios} writes then ${r.ios} reads of ${humanBytes(r.ioBytes)} (${humanBytes(r.dataBytes)} each way) per placement`,
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
