/**
 * Command-line parsing for `p2pdma`: one command word, positional operands and `--options`.
 * Every problem is a {@link UsageError}: one line naming the problem, exit code 2.
 */

/** A user error on the command line or in an input: printed as one line, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}

/** What one option takes. */
export interface OptionSpec {
  /** `flag`: no value; `value`: exactly one; `list`: one or more (repeatable, or comma-separated). */
  kind: 'flag' | 'value' | 'list';
  /** Allowed values, when the option is an enumeration. */
  choices?: readonly string[];
  /** Short alias, e.g. `o` for `-o`. */
  short?: string;
  /** For `list` options: later bare words matching this pattern also join the list (`--client A B`). */
  continueIf?: RegExp;
}

/** Parsed command line of one command. */
export interface ParsedArgs {
  positionals: string[];
  flags: Set<string>;
  values: Map<string, string>;
  lists: Map<string, string[]>;
}

/**
 * Parse the arguments after the command word.
 * @param argv the words after the command name
 * @param options the options this command accepts (anything else is refused)
 * @param command the command name, for error messages
 * @param elsewhere for an option this command does not take: the other commands that take it
 *   (named in the error, so `matrix --provider` says the option belongs to `check` and `find`)
 * @returns the parsed operands and options
 * @throws UsageError on an unknown option, an option of another command, a missing or invalid
 *   value, or a misplaced word
 */
export function parseArgs(
  argv: readonly string[],
  options: Record<string, OptionSpec>,
  command: string,
  elsewhere: (option: string) => readonly string[] = () => [],
): ParsedArgs {
  const out: ParsedArgs = { positionals: [], flags: new Set(), values: new Map(), lists: new Map() };
  const byShort = new Map(Object.entries(options).flatMap(([name, o]) => (o.short ? [[o.short, name] as const] : [])));
  let current: string | null = null;
  for (let i = 0; i < argv.length; i++) {
    const word = argv[i]!;
    let name: string | null = null;
    let inline: string | undefined;
    if (word.startsWith('--') && word.length > 2) {
      const eq = word.indexOf('=');
      name = eq >= 0 ? word.slice(2, eq) : word.slice(2);
      inline = eq >= 0 ? word.slice(eq + 1) : undefined;
    } else if (/^-[a-zA-Z]$/.test(word)) {
      name = byShort.get(word.slice(1)) ?? null;
      if (!name) throw new UsageError(`${command}: unknown option '${word}'`);
    }
    if (name === null) {
      if (current && options[current]?.continueIf?.test(word)) {
        out.lists.get(current)!.push(...splitList(word));
        continue;
      }
      current = null;
      if (word.startsWith('-') && word !== '-') throw new UsageError(`${command}: unknown option '${word}'`);
      out.positionals.push(word);
      continue;
    }
    current = null;
    const spec = options[name];
    if (!spec) {
      const others = elsewhere(name);
      if (others.length > 0) throw new UsageError(`${command}: option '--${name}' is not a ${command} option (it belongs to ${others.join(', ')})`);
      throw new UsageError(`${command}: unknown option '--${name}'`);
    }
    if (spec.kind === 'flag') {
      if (inline !== undefined) throw new UsageError(`${command}: option '--${name}' takes no value`);
      out.flags.add(name);
      continue;
    }
    const value = inline ?? argv[++i];
    if (value === undefined || (inline === undefined && value.startsWith('--'))) {
      throw new UsageError(`${command}: option '--${name}' needs a value`);
    }
    for (const v of spec.kind === 'list' ? splitList(value) : [value]) {
      if (spec.choices && !spec.choices.includes(v)) {
        throw new UsageError(`${command}: option '--${name}' must be one of ${spec.choices.join(', ')} (got '${v}')`);
      }
    }
    if (spec.kind === 'value') {
      if (out.values.has(name)) throw new UsageError(`${command}: option '--${name}' given twice`);
      out.values.set(name, value);
    } else {
      const list = out.lists.get(name) ?? [];
      list.push(...splitList(value));
      out.lists.set(name, list);
      current = name;
    }
  }
  return out;
}

function splitList(v: string): string[] {
  return v.split(',').filter((s) => s.length > 0);
}
