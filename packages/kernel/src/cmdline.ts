/**
 * The kernel command line.
 *
 * Parsing follows the kernel's `next_arg()`: parameters are separated by whitespace, a value may
 * be double-quoted (`param="a b"` or `"param=a b"`; the opening and closing quotes are removed,
 * quotes inside a value are kept), everything after a bare `--` goes to init. Parameter names compare with `-` and `_` treated alike, as `parameq()` does.
 *
 * Errors: the command line is user input, so a malformed one (an unterminated quote, an empty
 * parameter name) is reported as a `CmdlineError` naming the parameter and the reason: thrown by
 * `KernelCmdline.parse`, returned by `KernelCmdline.tryParse`. (The kernel itself silently takes
 * the rest of the line; the model refuses, so typos surface.)
 *
 * @kernel lib/cmdline.c next_arg, kernel/params.c parse_args, drivers/pci/pci.c pci_setup
 */

/** One `name[=value]` parameter, in command-line order. */
export interface CmdlineParam {
  /** The name as written. */
  readonly name: string;
  /** The value with quotes removed; `null` for a bare flag (`quiet`), `''` for `name=`. */
  readonly value: string | null;
}

/** A malformed command line. */
export class CmdlineError extends Error {
  /**
   * @param param the parameter at fault, as written (possibly truncated by the error).
   * @param reason why it is rejected.
   */
  constructor(
    readonly param: string,
    readonly reason: string,
  ) {
    super(`kernel command line: parameter ${JSON.stringify(param)}: ${reason}`);
    this.name = 'CmdlineError';
  }
}

/** Result of `KernelCmdline.tryParse`. */
export type CmdlineParseResult = { ok: true; cmdline: KernelCmdline } | { ok: false; error: CmdlineError };

/** What an IOMMU-related parameter value asks for. */
interface IommuEffect {
  /** Turn the IOMMU on (`true`) or off (`false`); absent: no change. */
  readonly enable?: boolean;
  /** Identity (passthrough) default domains; absent: no change. */
  readonly passthrough?: boolean;
}

/**
 * IOMMU parameters: parameter → comma-separated value token → effect. Values not listed
 * (`intel_iommu=sm_on`, `iommu=soft`) change nothing in the model.
 * @kernel iommu_setup (x86), intel_iommu_setup, parse_amd_iommu_options, iommu_set_def_domain_type
 */
export const IOMMU_CMDLINE_EFFECTS: Readonly<Record<string, Readonly<Record<string, IommuEffect>>>> = {
  iommu: {
    on: { enable: true },
    off: { enable: false },
    pt: { enable: true, passthrough: true },
    nopt: { passthrough: false },
  },
  intel_iommu: { on: { enable: true }, off: { enable: false } },
  amd_iommu: { on: { enable: true }, off: { enable: false } },
  'iommu.passthrough': { '1': { passthrough: true }, '0': { passthrough: false } },
};

function normName(name: string): string {
  return name.replaceAll('-', '_');
}

function isSpace(c: string): boolean {
  return c === ' ' || c === '\t' || c === '\n' || c === '\r' || c === '\v' || c === '\f';
}

/**
 * A parsed kernel command line. Immutable; one per `Kernel`.
 * @kernel saved_command_line
 */
export class KernelCmdline {
  private readonly list: readonly CmdlineParam[];

  private constructor(
    /** The command line as given. */
    readonly text: string,
    params: CmdlineParam[],
    /** Arguments after `--`, handed to init. */
    readonly initArgs: readonly string[],
  ) {
    this.list = Object.freeze(params);
  }

  /**
   * Parses a command line.
   * @param text the command line (`/proc/cmdline` text).
   * @returns the parsed command line.
   * @throws CmdlineError for an unterminated quote or an empty parameter name.
   * @kernel parse_args
   */
  static parse(text: string): KernelCmdline {
    const r = KernelCmdline.tryParse(text);
    if (!r.ok) throw r.error;
    return r.cmdline;
  }

  /**
   * Parses a command line without throwing.
   * @param text the command line.
   * @returns `{ ok: true, cmdline }` or `{ ok: false, error }`.
   */
  static tryParse(text: string): CmdlineParseResult {
    const params: CmdlineParam[] = [];
    const initArgs: string[] = [];
    let i = 0;
    const n = text.length;
    let toInit = false;
    while (i < n) {
      while (i < n && isSpace(text[i]!)) i++;
      if (i >= n) break;
      // One argument, as next_arg() scans it: quotes toggle, the first '=' splits.
      const quoted = text[i] === '"';
      if (quoted) i++;
      const start = i;
      let inQuote = quoted;
      let eq = -1;
      for (; i < n; i++) {
        const c = text[i]!;
        if (isSpace(c) && !inQuote) break;
        if (c === '=' && eq < 0) eq = i - start;
        if (c === '"') inQuote = !inQuote;
      }
      const arg = text.slice(start, i);
      const written = quoted ? `"${arg}` : arg;
      if (inQuote) {
        const name = eq < 0 ? arg : arg.slice(0, eq);
        return { ok: false, error: new CmdlineError(name, `unterminated quote in ${JSON.stringify(written)}`) };
      }
      if (toInit) {
        initArgs.push(written);
        continue;
      }
      if (written === '--') {
        toInit = true;
        continue;
      }
      // Quote removal, as next_arg() does it: a quote opening the argument or the value, and
      // then the quote closing the argument; quotes inside the value are kept.
      let name = eq < 0 ? arg : arg.slice(0, eq);
      let value = eq < 0 ? null : arg.slice(eq + 1);
      let trailing = quoted;
      if (value?.startsWith('"')) {
        value = value.slice(1);
        trailing = true;
      }
      if (trailing && arg.endsWith('"')) {
        if (value === null) name = name.slice(0, -1);
        else if (value.endsWith('"')) value = value.slice(0, -1);
      }
      if (name === '') {
        return { ok: false, error: new CmdlineError(written, 'empty parameter name') };
      }
      params.push({ name, value });
    }
    return { ok: true, cmdline: new KernelCmdline(text, params, initArgs) };
  }

  /** Every parameter in command-line order (a frozen array). */
  params(): readonly CmdlineParam[] {
    return this.list;
  }

  /**
   * The value of the last occurrence of a parameter (later ones override, as for most
   * `__setup` handlers).
   * @param name parameter name; `-` and `_` match each other.
   * @returns the value, `''` for a bare flag or `name=`, `null` when absent.
   */
  get(name: string): string | null {
    const want = normName(name);
    for (let i = this.list.length - 1; i >= 0; i--) {
      const p = this.list[i]!;
      if (normName(p.name) === want) return p.value ?? '';
    }
    return null;
  }

  /**
   * Whether a parameter occurs.
   * @param name parameter name.
   * @returns `true` when present, with or without a value.
   */
  has(name: string): boolean {
    return this.get(name) !== null;
  }

  /**
   * Values of every occurrence, in order (a parameter given twice, such as `pci=`, is handled
   * once per occurrence by the kernel).
   * @param name parameter name.
   * @returns values (`null` for bare occurrences); empty when absent.
   */
  getAll(name: string): (string | null)[] {
    const want = normName(name);
    return this.list.filter((p) => normName(p.name) === want).map((p) => p.value);
  }

  /**
   * The `pci=` options, every occurrence in order, each split on commas as `pci_setup()` does.
   * Values that carry lists use the kernel's own separators (`;` between devices, `@` for
   * alignment), so they come through intact: `pci=noats,disable_acs_redir=0000:00:01.0;pci:8086:1234`
   * gives `['noats', 'disable_acs_redir=0000:00:01.0;pci:8086:1234']`.
   * @returns the options; empty options (from `,,`) are dropped as the kernel skips them.
   * @kernel pci_setup
   */
  pciOptions(): string[] {
    const out: string[] = [];
    for (const v of this.getAll('pci')) {
      if (v === null) continue;
      for (const opt of v.split(',')) if (opt !== '') out.push(opt);
    }
    return out;
  }

  /**
   * The value of one `pci=` option: `pciOption('disable_acs_redir')` gives the device list.
   * @param key the option name before `=`.
   * @returns the last value, `''` for a bare option (`pci=noacs` → `pciOption('noacs')` is `''`),
   *   `null` when absent.
   */
  pciOption(key: string): string | null {
    let found: string | null = null;
    for (const opt of this.pciOptions()) {
      if (opt === key) found = '';
      else if (opt.startsWith(`${key}=`)) found = opt.slice(key.length + 1);
    }
    return found;
  }

  /**
   * What the command line says about turning the IOMMU on, per `IOMMU_CMDLINE_EFFECTS`; the last
   * deciding parameter wins.
   * @returns `true` (`intel_iommu=on`, `amd_iommu=on`, `iommu=on|pt`), `false` (`iommu=off`,
   *   `intel_iommu=off`, `amd_iommu=off`), `null` when nothing says.
   */
  iommuOverride(): boolean | null {
    return this.iommuEffect('enable');
  }

  /**
   * Whether default IOMMU domains are identity (passthrough): `iommu=pt`, `iommu.passthrough=1`.
   * @returns `true` when asked for, `false` otherwise.
   * @kernel iommu_set_default_passthrough
   */
  iommuPassthrough(): boolean {
    return this.iommuEffect('passthrough') ?? false;
  }

  private iommuEffect(key: keyof IommuEffect): boolean | null {
    let result: boolean | null = null;
    for (const p of this.list) {
      const table = IOMMU_CMDLINE_EFFECTS[normName(p.name)] ?? IOMMU_CMDLINE_EFFECTS[p.name];
      if (table === undefined || p.value === null) continue;
      for (const token of p.value.split(',')) {
        const effect = table[token];
        if (effect?.[key] !== undefined) result = effect[key];
      }
    }
    return result;
  }
}
