/**
 * Line-level mutations of a text file (a dump cut, edited by hand or by a broken tool): the
 * shared vocabulary of the lspci and show-regs fuzzers.
 */
import fc from 'fast-check';

/** One edit of a text's lines; indexes are taken modulo the current length. */
export type LineOp =
  | { readonly op: 'delete'; readonly at: number }
  | { readonly op: 'duplicate'; readonly at: number }
  | { readonly op: 'swap'; readonly at: number; readonly with: number }
  | { readonly op: 'flip'; readonly at: number; readonly pos: number; readonly ch: string }
  | { readonly op: 'insert'; readonly at: number; readonly line: string }
  | { readonly op: 'hex'; readonly at: number; readonly hex: string }
  | { readonly op: 'cut'; readonly at: number; readonly pos: number };

/**
 * Line edits, with inserted lines drawn from `vocabulary`.
 * @param vocabulary lines that look like the format.
 * @returns the arbitrary.
 */
export function lineOpArb(vocabulary: readonly string[]): fc.Arbitrary<LineOp> {
  const hexArb = fc.oneof(
    fc.bigInt({ min: 0n, max: (1n << 72n) - 1n }).map((v) => v.toString(16)),
    fc.constantFrom('', '0x', 'zz', '-1', '0x0x10', 'ffffffffffffffffff', ' ', '1 2', '١٢'),
  );
  return fc.oneof(
    fc.record({ op: fc.constant('delete' as const), at: fc.nat() }),
    fc.record({ op: fc.constant('duplicate' as const), at: fc.nat() }),
    fc.record({ op: fc.constant('swap' as const), at: fc.nat(), with: fc.nat() }),
    fc.record({ op: fc.constant('flip' as const), at: fc.nat(), pos: fc.nat(), ch: fc.string({ unit: 'binary', minLength: 1, maxLength: 2 }) }),
    fc.record({ op: fc.constant('insert' as const), at: fc.nat(), line: vocabulary.length > 0 ? fc.constantFrom(...vocabulary) : fc.string() }),
    fc.record({ op: fc.constant('hex' as const), at: fc.nat(), hex: hexArb }),
    fc.record({ op: fc.constant('cut' as const), at: fc.nat(), pos: fc.nat() }),
  );
}

const VALUE_RE = /(:\s*)(?:0x)?[0-9a-fA-F]+/;

/**
 * Applies line edits.
 * @param text the original.
 * @param ops the edits, in order.
 * @param crlf end lines with CR LF.
 * @returns the edited text.
 */
export function applyLineOps(text: string, ops: readonly LineOp[], crlf = false): string {
  const lines = text.split('\n');
  for (const o of ops) {
    if (lines.length === 0) lines.push('');
    const i = o.at % lines.length;
    const line = lines[i]!;
    switch (o.op) {
      case 'delete':
        lines.splice(i, 1);
        break;
      case 'duplicate':
        lines.splice(i, 0, line);
        break;
      case 'swap': {
        const j = o.with % lines.length;
        lines[i] = lines[j]!;
        lines[j] = line;
        break;
      }
      case 'flip': {
        const p = line.length === 0 ? 0 : o.pos % line.length;
        lines[i] = line.slice(0, p) + o.ch + line.slice(p + 1);
        break;
      }
      case 'insert':
        lines.splice(i, 0, o.line);
        break;
      case 'hex':
        lines[i] = line.replace(VALUE_RE, `$1${o.hex}`);
        break;
      case 'cut':
        lines.splice(i + 1);
        lines[i] = line.slice(0, line.length === 0 ? 0 : o.pos % line.length);
        break;
    }
  }
  const out = lines.join('\n');
  return crlf ? out.replace(/\n/g, '\r\n') : out;
}
