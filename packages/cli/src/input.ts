/**
 * Loading a topology operand: `builtin:<name>`, a topology JSON file, or `lspci -vvv -nn` text
 * (detected by content). Every failure is a one-line {@link UsageError} naming the input.
 */
import { readFileSync } from 'node:fs';
import {
  type TopologySpec,
  builtinNames,
  formatTopologyErrors,
  getBuiltin,
  importLspci,
  isLspciText,
  parseTopologyJson,
} from '@p2pdma/pci-core';
import { UsageError } from './args';

/** A loaded topology with where it came from and what its importer could not know. */
export interface LoadedTopology {
  spec: TopologySpec;
  /** The operand as given (`builtin:seed-switch`, a path). */
  source: string;
  /** `builtin`, `json` or `lspci`. */
  format: 'builtin' | 'json' | 'lspci';
  warnings: string[];
}

/**
 * Load the topology an operand names.
 * @param operand `builtin:<name>`, or a path to a topology JSON or an `lspci` text file
 * @returns the validated topology description
 * @throws UsageError (one line) for an unknown built-in, an unreadable file or invalid content
 */
export function loadTopology(operand: string): LoadedTopology {
  if (operand.startsWith('builtin:')) {
    const name = operand.slice('builtin:'.length);
    const spec = getBuiltin(name);
    if (!spec) throw new UsageError(`unknown builtin '${name}' (known: ${builtinNames().join(', ')})`);
    return { spec, source: operand, format: 'builtin', warnings: [...(spec.warnings ?? [])] };
  }
  let text: string;
  try {
    text = readFileSync(operand, 'latin1');
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : code === 'EACCES' ? 'permission denied' : String(code ?? e);
    throw new UsageError(`cannot read '${operand}': ${why}`);
  }
  if (/^\s*[{[]/.test(text)) {
    const r = parseTopologyJson(text, operand);
    if (!r.ok) throw new UsageError(firstLine(formatTopologyErrors(r.errors, operand)));
    return { spec: r.spec, source: operand, format: 'json', warnings: [...(r.spec.warnings ?? [])] };
  }
  if (!isLspciText(text)) {
    throw new UsageError(`'${operand}' is neither topology JSON nor lspci output`);
  }
  const r = importLspci(text, operand);
  if (!r.ok) throw new UsageError(firstLine(r.error));
  return { spec: r.spec, source: operand, format: 'lspci', warnings: r.warnings };
}

function firstLine(s: string): string {
  const lines = s.split('\n').filter((l) => l.trim());
  if (lines.length <= 1) return lines[0] ?? s;
  return `${lines[0]} ${lines.slice(1).map((l) => l.trim()).join('; ')}`;
}
