/**
 * The example's output: the comparison table as text, and the same result as JSON.
 *
 * @kernel — (presentation only)
 */
import { humanBytes } from '@p2pdma/cli';
import type { OffloadResult, OffloadRow } from './offload';

/** JSON schema tag of {@link offloadJson}. */
export const OFFLOAD_JSON_SCHEMA = 'p2pdma-example/nvmf-p2p-offload/v1';

/**
 * The result as a JSON document.
 * @param r the result.
 * @returns `{ schema, ...result }`, pretty-printed, with a trailing newline.
 */
export function offloadJson(r: OffloadResult): string {
  return `${JSON.stringify({ schema: OFFLOAD_JSON_SCHEMA, ...r }, null, 2)}\n`;
}

/** `bytes (k×data)`: exact bytes and their ratio to the data set. */
function perData(bytes: number, data: number): string {
  const k = bytes / data;
  return `${bytes} (${Number.isInteger(k) ? k : k.toFixed(3)}×)`;
}

const HEADER = ['placement', 'policy', 'data', 'DRAM data: write', 'DRAM data: read', 'DRAM cmd', 'root complex', 'busiest link', 'GB/s', 'bottleneck', 'verified'];

function cells(r: OffloadRow): string[] {
  if (r.ios === 0) return [r.placement, r.policy, humanBytes(r.dataBytes), '-', '-', '-', '-', '-', '-', '-', 'no (not run)'];
  const b = r.busiestLink;
  return [
    r.placement,
    r.policy,
    humanBytes(r.dataBytes),
    perData(r.write.dramDataBytes, r.dataBytes),
    perData(r.read.dramDataBytes, r.dataBytes),
    humanBytes(r.dramCommandBytes),
    humanBytes(r.rootComplexBytes),
    b === null ? '-' : `${b.link} ${humanBytes(b.upBytes + b.downBytes)}`,
    r.throughputGBps.toFixed(2),
    r.bottleneck,
    r.verified ? 'yes' : 'NO',
  ];
}

/** Where the buffers were and who moved the DRAM data bytes, per phase. */
function runNote(r: OffloadRow): string {
  const w = r.write.dram;
  const b = r.read.dram;
  const parts = [
    `drive ${r.drive}, ${r.buffers} (${r.p2pBuffers} p2pmem / ${r.systemBuffers} System RAM data buffers)`,
    `DRAM data written+read by DMA: write phase ${w.dataWrite}+${w.dataRead}, read-back ${b.dataWrite}+${b.dataRead}`,
  ];
  if (r.error !== null) parts.push(`FAILED: ${r.error}`);
  return parts.join('; ');
}

/**
 * The comparison table and, under it, one line per run saying where the target's buffers were
 * (or why the run is impossible or failed).
 * @param r the result.
 * @returns text ending in a newline.
 */
export function renderOffloadTable(r: OffloadResult): string {
  const table = [HEADER, ...r.rows.map(cells)];
  const widths = HEADER.map((_, i) => Math.max(...table.map((row) => (row[i] ?? '').length)));
  const line = (row: string[]) => row.map((c, i) => c.padEnd(widths[i] ?? 0)).join('  ').trimEnd();
  const out: string[] = [
    `NVMe-oF copy offload on ${r.topology}: a remote host writes ${humanBytes(r.dataBytes)} (${r.dataBytes} bytes, seed ${r.seed}) in ${humanBytes(r.ioBytes)} I/Os, then reads it back`,
    '',
    line(table[0] ?? []),
    line(widths.map((w) => '-'.repeat(w))),
    ...table.slice(1).map(line),
    '',
  ];
  for (const row of r.rows) {
    out.push(`${row.placement}/${row.policy}: ${row.ios === 0 ? (row.error ?? 'not run') : runNote(row)}`);
  }
  return `${out.join('\n')}\n`;
}
