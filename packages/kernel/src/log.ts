/**
 * The kernel log (the printk ring buffer that `dmesg` reads).
 *
 * Every line records the virtual time it was printed at, its level, its full text (with the
 * device prefix, as `dmesg` shows it) and the device name when printed through `devPrintk`.
 * Tests assert exact lines; the CLI renders them dmesg-style.
 *
 * @kernel kernel/printk/printk.c, drivers/base/core.c (dev_printk)
 */
import type { Device } from './device';

/** System is unusable. @kernel KERN_EMERG */
export const KERN_EMERG = 0;
/** Action must be taken immediately. @kernel KERN_ALERT */
export const KERN_ALERT = 1;
/** Critical conditions. @kernel KERN_CRIT */
export const KERN_CRIT = 2;
/** Error conditions. @kernel KERN_ERR */
export const KERN_ERR = 3;
/** Warning conditions. @kernel KERN_WARNING */
export const KERN_WARNING = 4;
/** Normal but significant condition. @kernel KERN_NOTICE */
export const KERN_NOTICE = 5;
/** Informational. @kernel KERN_INFO */
export const KERN_INFO = 6;
/** Debug-level messages. @kernel KERN_DEBUG */
export const KERN_DEBUG = 7;

/** A printk level, `KERN_EMERG` (0) to `KERN_DEBUG` (7). */
export type LogLevel =
  | typeof KERN_EMERG
  | typeof KERN_ALERT
  | typeof KERN_CRIT
  | typeof KERN_ERR
  | typeof KERN_WARNING
  | typeof KERN_NOTICE
  | typeof KERN_INFO
  | typeof KERN_DEBUG;

/** Level → the kernel's name for it, for renderings that show levels (`dmesg -x` style). */
export const LOG_LEVEL_NAMES: Readonly<Record<LogLevel, string>> = {
  [KERN_EMERG]: 'emerg',
  [KERN_ALERT]: 'alert',
  [KERN_CRIT]: 'crit',
  [KERN_ERR]: 'err',
  [KERN_WARNING]: 'warn',
  [KERN_NOTICE]: 'notice',
  [KERN_INFO]: 'info',
  [KERN_DEBUG]: 'debug',
};

/** One line of the kernel log. */
export interface LogLine {
  /** Virtual time of the printk, in ns since boot. */
  readonly time: number;
  /** The printk level. */
  readonly level: LogLevel;
  /** The full text as `dmesg` shows it, device prefix included, without the trailing newline. */
  readonly text: string;
  /** The device name, for lines printed through `devPrintk` and its helpers. */
  readonly dev?: string;
}

/** The time source a log stamps its lines with (a `VirtualClock`). */
export interface LogClock {
  /** Current time in ns. */
  now(): number;
}

/** Options for a `KernelLog`. */
export interface KernelLogOptions {
  /** Also write each line, dmesg-rendered, to stderr. Default `false`. */
  echo?: boolean;
  /**
   * Lines kept: when the buffer grows past 1.5 × capacity the oldest lines are dropped down to
   * `capacity` (the ring buffer overwriting old records). Default 100 000.
   */
  capacity?: number;
}

/**
 * The string `dev_driver_string()` returns: the bound driver's name, else the bus name, else
 * the class name, else `null` (the kernel returns an empty string there).
 * @param dev the device.
 * @returns the prefix word or `null`.
 * @kernel dev_driver_string
 */
export function devDriverString(dev: Device): string | null {
  return dev.driver?.name ?? dev.bus?.name ?? dev.className ?? null;
}

/**
 * The prefix `dev_printk` puts before a device's message: `"pci 0000:03:00.0: "`,
 * `"nvme 0000:03:00.0: "` once the nvme driver is bound, or just `"<name>: "` for a device with
 * no driver, bus or class (the kernel prints a leading space there; the model drops it).
 * @param dev the device.
 * @returns the prefix, ending in `": "`.
 * @kernel dev_printk_emit / __dev_printk
 */
export function devPrefix(dev: Device): string {
  const word = devDriverString(dev);
  return word === null ? `${dev.name}: ` : `${word} ${dev.name}: `;
}

/**
 * Renders a time in ns as the kernel's `[%5lu.%06lu]` timestamp: `[    1.234567]`.
 * @param ns time since boot in ns.
 * @returns the bracketed timestamp.
 * @kernel print_time
 */
export function formatLogTime(ns: number): string {
  const t = Math.max(0, Math.floor(ns));
  const sec = Math.floor(t / 1e9);
  const usec = Math.floor((t % 1e9) / 1000);
  return `[${String(sec).padStart(5, ' ')}.${String(usec).padStart(6, '0')}]`;
}

const DEFAULT_CAPACITY = 100_000;

/**
 * A kernel's log buffer. One per `Kernel`; stamped by that kernel's virtual clock.
 * @kernel printk ring buffer
 */
export class KernelLog {
  /** Whether lines are also written to stderr (off by default). */
  echo: boolean;
  private readonly capacity: number;
  private buf: LogLine[] = [];
  private readonly subscribers = new Set<(line: LogLine) => void>();

  /**
   * @param clock time source for line stamps; without one every line is stamped 0.
   * @param opts echo and capacity options.
   */
  constructor(
    private readonly clock: LogClock | null = null,
    opts: KernelLogOptions = {},
  ) {
    this.echo = opts.echo ?? false;
    const cap = opts.capacity ?? DEFAULT_CAPACITY;
    if (!Number.isInteger(cap) || cap < 1) {
      throw new RangeError(`KernelLog: capacity ${cap} must be a positive integer`);
    }
    this.capacity = cap;
  }

  /**
   * Appends a line.
   * @param level the printk level.
   * @param text the message; one trailing newline is dropped, as printk does.
   * @kernel printk
   */
  printk(level: LogLevel, text: string): void {
    this.emit(level, stripNewline(text), undefined);
  }

  /**
   * Appends a device line with the kernel's dev_printk prefix (see `devPrefix`).
   * @param level the printk level.
   * @param dev the device the message is about.
   * @param text the message; one trailing newline is dropped.
   * @kernel dev_printk
   */
  devPrintk(level: LogLevel, dev: Device, text: string): void {
    this.emit(level, devPrefix(dev) + stripNewline(text), dev.name);
  }

  /** `dev_info`. @param dev the device. @param text the message. @kernel dev_info */
  devInfo(dev: Device, text: string): void {
    this.devPrintk(KERN_INFO, dev, text);
  }
  /** `dev_warn`. @param dev the device. @param text the message. @kernel dev_warn */
  devWarn(dev: Device, text: string): void {
    this.devPrintk(KERN_WARNING, dev, text);
  }
  /** `dev_err`. @param dev the device. @param text the message. @kernel dev_err */
  devErr(dev: Device, text: string): void {
    this.devPrintk(KERN_ERR, dev, text);
  }
  /** `dev_dbg` (always recorded; filter by level to hide). @param dev the device. @param text the message. @kernel dev_dbg */
  devDbg(dev: Device, text: string): void {
    this.devPrintk(KERN_DEBUG, dev, text);
  }
  /** `pr_info`. @param text the message. @kernel pr_info */
  prInfo(text: string): void {
    this.printk(KERN_INFO, text);
  }
  /** `pr_warn`. @param text the message. @kernel pr_warn */
  prWarn(text: string): void {
    this.printk(KERN_WARNING, text);
  }
  /** `pr_err`. @param text the message. @kernel pr_err */
  prErr(text: string): void {
    this.printk(KERN_ERR, text);
  }
  /** `pr_debug` (always recorded). @param text the message. @kernel pr_debug */
  prDebug(text: string): void {
    this.printk(KERN_DEBUG, text);
  }

  /**
   * The lines held, oldest first.
   * @param maxLevel keep only lines at this level or more severe (`KERN_INFO` hides debug).
   * @returns a fresh array the caller owns.
   */
  lines(maxLevel: LogLevel = KERN_DEBUG): LogLine[] {
    return maxLevel === KERN_DEBUG ? this.buf.slice() : this.buf.filter((l) => l.level <= maxLevel);
  }

  /**
   * The log rendered as `dmesg` does: one `[    1.234567] text` line each, newline-terminated.
   * @param maxLevel keep only lines at this level or more severe.
   * @returns the text (empty string for an empty log).
   */
  text(maxLevel: LogLevel = KERN_DEBUG): string {
    let out = '';
    for (const l of this.buf) if (l.level <= maxLevel) out += `${renderLine(l)}\n`;
    return out;
  }

  /**
   * Lines whose text matches: a substring for a string, a test for a RegExp.
   * @param pattern substring or regular expression (a global/sticky RegExp is reset per line).
   * @returns the matching lines, oldest first.
   */
  grep(pattern: string | RegExp): LogLine[] {
    if (typeof pattern === 'string') return this.buf.filter((l) => l.text.includes(pattern));
    return this.buf.filter((l) => {
      pattern.lastIndex = 0;
      return pattern.test(l.text);
    });
  }

  /** Drops every line (`dmesg -C`). @kernel syslog(SYSLOG_ACTION_CLEAR) */
  clear(): void {
    this.buf = [];
  }

  /**
   * Calls `fn` for each new line, in order, after it is recorded.
   * @param fn the listener.
   * @returns a function that removes the listener.
   */
  subscribe(fn: (line: LogLine) => void): () => void {
    this.subscribers.add(fn);
    return () => {
      this.subscribers.delete(fn);
    };
  }

  private emit(level: LogLevel, text: string, dev: string | undefined): void {
    const time = this.clock === null ? 0 : this.clock.now();
    const line: LogLine = dev === undefined ? { time, level, text } : { time, level, text, dev };
    this.buf.push(line);
    if (this.buf.length > this.capacity + (this.capacity >> 1)) {
      this.buf.splice(0, this.buf.length - this.capacity);
    }
    if (this.echo) process.stderr.write(`${renderLine(line)}\n`);
    for (const fn of this.subscribers) fn(line);
  }
}

/**
 * Renders one line as `dmesg` does.
 * @param line the line.
 * @returns `[    1.234567] text`.
 */
export function renderLine(line: LogLine): string {
  return `${formatLogTime(line.time)} ${line.text}`;
}

function stripNewline(text: string): string {
  return text.endsWith('\n') ? text.slice(0, -1) : text;
}
