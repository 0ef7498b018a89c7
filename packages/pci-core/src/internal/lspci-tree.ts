/**
 * Parser of `lspci -t` / `lspci -tv` trees, as found in nvidia-bug-report logs and mailing-list
 * attachments. The tree is the only place some dumps give the bus ranges of root ports.
 *
 * ```
 * -+-[0000:ff]-+-0b.0
 *  \-[0000:00]-+-00.0
 *              +-02.0-[02-05]----00.0-[03-05]--+-08.0-[04]--+-00.0
 *              |                               |            \-00.1
 * ```
 *
 * A `[dddd:bb]` marker opens a root bus; `bb.f-[ss-ee]` is a bridge with its secondary and
 * subordinate buses; the functions on a bus hang from `+-` / `\-` branch characters that share
 * one column, so the bus of a branch is remembered by its column.
 */

/** What the tree says about one function. */
export interface TreeEntry {
  domain: number;
  bus: number;
  slot: number;
  fn: number;
  /** 1-based line of the input where it appears. */
  line: number;
  /** Bridges: `[secondary, subordinate]`. */
  range?: [number, number];
}

interface BusRef {
  domain: number;
  bus: number;
}

/** Tokens of a tree line: a root marker, a branch character, or a function (with bus range). */
const TOKEN_RE = /\[([0-9a-f]{4,8}):([0-9a-f]{2})\]|([+\\])-|([0-9a-f]{2})\.([0-7])(?:-\[([0-9a-f]{2})(?:-([0-9a-f]{2}))?\])?/g;
/** Where a `-tv` name starts: two spaces after a function or a dash. */
const NAME_RE = /(?:\.[0-7]|-) {2}\S/;
/** The first line of a tree. */
export const TREE_START_RE = /^[-+\\| ]*-\[[0-9a-f]{4,8}:[0-9a-f]{2}\]/;

/** Accumulates the entries of one or more trees, line by line. */
export class TreeParser {
  /** Entries in input order. */
  readonly entries: TreeEntry[] = [];
  private readonly columnBus = new Map<number, BusRef>();

  /** Start a new tree (forget branch columns of the previous one). */
  reset(): void {
    this.columnBus.clear();
  }

  /**
   * Parse one tree line.
   * @param text the line.
   * @param lineNo its 1-based line number.
   */
  parseLine(text: string, lineNo: number): void {
    const cut = text.search(NAME_RE);
    const line = cut >= 0 ? text.slice(0, cut + 2) : text;
    let pending: BusRef | null = null;
    let branchBus: BusRef | null = null;
    TOKEN_RE.lastIndex = 0;
    for (let m = TOKEN_RE.exec(line); m !== null; m = TOKEN_RE.exec(line)) {
      if (m[1] !== undefined) {
        pending = { domain: Number.parseInt(m[1], 16), bus: Number.parseInt(m[2]!, 16) };
        branchBus = null;
      } else if (m[3] !== undefined) {
        const col = m.index;
        if (pending) {
          this.columnBus.set(col, pending);
          pending = null;
        }
        branchBus = this.columnBus.get(col) ?? null;
      } else {
        const bus: BusRef | null = branchBus ?? pending;
        branchBus = null;
        pending = null;
        if (!bus) continue;
        const entry: TreeEntry = {
          domain: bus.domain,
          bus: bus.bus,
          slot: Number.parseInt(m[4]!, 16),
          fn: Number(m[5]),
          line: lineNo,
        };
        if (m[6] !== undefined) {
          const sec = Number.parseInt(m[6], 16);
          entry.range = [sec, m[7] === undefined ? sec : Number.parseInt(m[7], 16)];
          pending = { domain: bus.domain, bus: sec };
        }
        this.entries.push(entry);
      }
    }
  }
}
