/**
 * Character classes exactly as bert4keras (bert4keras/tokenizers.py) and Python's str methods
 * define them. Every function takes one code point as a string (what `for..of` yields).
 *
 * Unicode categories come from the JavaScript engine (ICU), Python's from its `unicodedata`
 * tables; the two may disagree on characters added between their Unicode versions.
 */

/**
 * Python's `str.isspace()`: bidirectional class WS, B or S, or category Zs. This is not
 * JavaScript's `\s`, which lacks \x1c-\x1f and \x85 and adds U+FEFF.
 */
const PYTHON_WHITESPACE = new Set(
  [0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x1c, 0x1d, 0x1e, 0x1f, 0x20, 0x85, 0xa0, 0x1680,
    0x2000, 0x2001, 0x2002, 0x2003, 0x2004, 0x2005, 0x2006, 0x2007, 0x2008, 0x2009, 0x200a,
    0x2028, 0x2029, 0x202f, 0x205f, 0x3000].map((code) => String.fromCodePoint(code)),
);

export function isPythonWhitespace(char: string): boolean {
  return PYTHON_WHITESPACE.has(char);
}

/** Python's `text.split()` with no argument: fields between runs of Python whitespace. */
export function pythonSplit(text: string): string[] {
  const fields: string[] = [];
  let field = '';
  for (const char of text) {
    if (PYTHON_WHITESPACE.has(char)) {
      if (field !== '') fields.push(field);
      field = '';
    } else {
      field += char;
    }
  }
  if (field !== '') fields.push(field);
  return fields;
}

/** Python's `len(text)`: the number of code points, not of UTF-16 units. */
export function codePointLength(text: string): number {
  let length = 0;
  for (const _ of text) length++;
  return length;
}

const SPACE_SEPARATOR = /^\p{Zs}$/u;
const PUNCTUATION_CATEGORY = /^\p{P}$/u;
const CONTROL_OR_FORMAT = /^[\p{Cc}\p{Cf}]$/u;
const NONSPACING_MARK = /\p{Mn}/gu;

/** bert4keras `_is_space`: ' ', '\n', '\r', '\t' or category Zs. */
export function isBertSpace(char: string): boolean {
  return char === ' ' || char === '\n' || char === '\r' || char === '\t' || SPACE_SEPARATOR.test(char);
}

/** bert4keras `_is_punctuation`: ASCII symbols and punctuation, or any category P*. */
export function isBertPunctuation(char: string): boolean {
  const code = char.codePointAt(0)!;
  return (code >= 33 && code <= 47) || (code >= 58 && code <= 64) || (code >= 91 && code <= 96) ||
    (code >= 123 && code <= 126) || PUNCTUATION_CATEGORY.test(char);
}

/** bert4keras `_is_cjk_character`: the CJK ideograph blocks it lists (no kana, no hangul). */
export function isCjkCharacter(char: string): boolean {
  const code = char.codePointAt(0)!;
  return (code >= 0x4e00 && code <= 0x9fff) || (code >= 0x3400 && code <= 0x4dbf) ||
    (code >= 0x20000 && code <= 0x2a6df) || (code >= 0x2a700 && code <= 0x2b73f) ||
    (code >= 0x2b740 && code <= 0x2b81f) || (code >= 0x2b820 && code <= 0x2ceaf) ||
    (code >= 0xf900 && code <= 0xfaff) || (code >= 0x2f800 && code <= 0x2fa1f);
}

/** bert4keras `_is_control`: category Cc or Cf. */
export function isBertControl(char: string): boolean {
  return CONTROL_OR_FORMAT.test(char);
}

/**
 * bert4keras's do_lower_case normalisation: `text.lower()`, then NFD, then every Mn character
 * removed. Lower-casing first matters: it can produce characters that NFD decomposes.
 */
export function lowercaseAndNormalize(text: string): string {
  return text.toLowerCase().normalize('NFD').replace(NONSPACING_MARK, '');
}
