/**
 * The example's output: the comparison of the CMB copy with the bounce-buffer copy, and the bytes
 * per link, as text; the same result as JSON.
 *
 * @kernel — (presentation only)
 */
import { humanBytes } from '@p2pdma/cli';
import type { CmbCopyResult, CmbCopyRun } from './cmb-copy';

/** JSON schema tag of {@link cmbCopyJson}. */
export const CMB_COPY_JSON_SCHEMA = 'p2pdma-example/cmb-copy/v1';

/**
 * The result as a JSON document.
 * @param r the result.
 * @returns `{ schema, ...result }`, pretty-printed, with a trailing newline.
 */
export function cmbCopyJson(r: CmbCopyResult): string {
  return `${JSON.stringify({ schema: CMB_COPY_JSON_SCHEMA, ...r }, null, 2)}\n`;
}

function table(rows: string[][]): string[] {
  const widths = (rows[0] ?? []).map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length)));
  const line = (r: string[]) => r.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  return [line(rows[0] ?? []), line(widths.map((w) => '-'.repeat(w))), ...rows.slice(1).map(line)];
}

function runCells(r: CmbCopyRun): string[] {
  if (r.chunks === 0) return [r.staging, humanBytes(r.dataBytes), '-', '-', '-', '-', 'no (not run)'];
  const k = r.dramDataBytes / r.dataBytes;
  return [
    r.staging,
    humanBytes(r.dataBytes),
    `${r.dramDataBytes} (${Number.isInteger(k) ? k : k.toFixed(3)}×)`,
    humanBytes(r.dramCommandBytes),
    humanBytes(r.rootComplexBytes),
    humanBytes(r.destinationInternalBytes),
    r.verified ? 'yes' : 'NO',
  ];
}

/**
 * The two tables (runs; bytes per link) and one line per run that failed or could not run.
 * @param r the result.
 * @returns text ending in a newline.
 */
export function renderCmbCopy(r: CmbCopyResult): string {
  const first = r.runs[0];
  const out = [
    `CMB copy on ${r.topology} (${r.policy}): ${humanBytes(r.dataBytes)} (${r.dataBytes} bytes, seed ${r.seed}) from ${first?.source ?? '?'} nsid 1 to ${first?.destination ?? '?'} nsid 1 in ${humanBytes(r.chunkBytes)} chunks`,
    '',
    ...table([['staging', 'data', 'DRAM data', 'DRAM cmd', 'root complex', 'dest internal', 'verified'], ...r.runs.map(runCells)]),
    '',
    'bytes per link, up (towards the root) / down:',
  ];
  const names = new Map<string, string>();
  for (const run of r.runs) for (const l of run.links) names.set(l.link, l.device);
  const linkRows = [...names].map(([link, device]) => [
    link,
    device,
    ...r.runs.map((run) => {
      const l = run.links.find((x) => x.link === link);
      return l === undefined ? '0 / 0' : `${l.upBytes} / ${l.downBytes}`;
    }),
  ]);
  out.push(...table([['link', 'device', ...r.runs.map((run) => run.staging)], ...linkRows]));
  const notes = r.runs.filter((run) => run.error !== null).map((run) => `${run.staging}: ${run.error}`);
  if (notes.length > 0) out.push('', ...notes);
  return `${out.join('\n')}\n`;
}
