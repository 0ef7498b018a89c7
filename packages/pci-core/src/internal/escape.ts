/**
 * Escaping of input text quoted in one-line error messages.
 */

/** How a control character quoted from the input is shown in an error. */
const CONTROL_ESCAPES: Readonly<Record<string, string>> = { '\n': '\\n', '\r': '\\r', '\t': '\\t' };

/** Escape control characters (`\n`, `\r`, `\t`, others as `\xNN`) so a quoted input value cannot break an error line. */
export function escapeControls(s: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is the point
  return s.replace(/[\u0000-\u001f\u007f]/g, (c) => CONTROL_ESCAPES[c] ?? `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

