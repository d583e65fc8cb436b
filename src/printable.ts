/**
 * Text that came from outside (the API, a stored record) made safe to show on a terminal.
 *
 * A terminal obeys control characters: ESC starts sequences that retitle the window, clear the
 * screen, move the cursor or (on some terminals) write files; BEL, BS and CR overwrite what was
 * printed; bidirectional overrides make text read differently from what it is. Each such
 * character becomes a visible escape (`\x1b`, `\u202e`), so the user sees that the API sent junk
 * instead of having their terminal act on it.
 */

// C0 controls, DEL, C1 controls (0x9b is CSI on 8-bit terminals), and Unicode's bidi and
// invisible formatting controls.
const CONTROL = '\\u0000-\\u001f\\u007f-\\u009f\\u061c\\u200b-\\u200f\\u2028-\\u202e\\u2060-\\u2069\\ufeff';
const UNPRINTABLE = new RegExp(`[${CONTROL}]`, 'g');
const ANY_UNPRINTABLE = new RegExp(`[${CONTROL}]`);
/** The same, less tab, newline and carriage return: for formats that quote those themselves (CSV). */
const UNPRINTABLE_BUT_LINES = new RegExp(`(?![\\t\\n\\r])[${CONTROL}]`, 'g');
/** What JSON.stringify leaves as it is but a terminal would act on: it escapes only C0 itself. */
const JSON_UNESCAPED = /[\u007f-\u009f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

const escape = (c: string, json = false) => {
  const code = c.charCodeAt(0);
  return code <= 0xff && !json ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
};

export function printable(text: string, opts: { keepLines?: boolean } = {}): string {
  return text.replace(opts.keepLines ? UNPRINTABLE_BUT_LINES : UNPRINTABLE, (c) => escape(c));
}

/** Whether `text` holds any character {@link printable} would escape. */
export function hasUnprintable(text: string): boolean {
  return ANY_UNPRINTABLE.test(text);
}

/** JSON.stringify, with every control character escaped: the same value, safe on a terminal. */
export function terminalSafeJson(value: unknown): string {
  return JSON.stringify(value).replace(JSON_UNESCAPED, (c) => escape(c, true));
}
