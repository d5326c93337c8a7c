import { codePointLength, isBertPunctuation, isCjkCharacter } from '../model/unicode.js';

/** bert4keras `Tokenizer._cjk_punctuation()`: full-width and CJK punctuation that takes no space after it. */
const CJK_PUNCTUATION =
  '\uff02\uff03\uff04\uff05\uff06\uff07\uff08\uff09\uff0a\uff0b\uff0c\uff0d\uff0f\uff1a\uff1b\uff1c\uff1d\uff1e\uff20\uff3b\uff3c\uff3d\uff3e\uff3f' +
  '\uff40\uff5b\uff5c\uff5d\uff5e\uff5f\uff60\uff62\uff63\uff64\u3000\u3001\u3003\u3008\u3009\u300a\u300b\u300c\u300d\u300e\u300f\u3010\u3011' +
  '\u3014\u3015\u3016\u3017\u3018\u3019\u301a\u301b\u301c\u301d\u301e\u301f\u3030\u303e\u303f\u2013\u2014\u2018\u2019\u201b\u201c\u201d\u201e' +
  '\u201f\u2026\u2027\ufe4f\ufe51\ufe54\u00b7\uff01\uff1f\uff61\u3002';

const NO_SPACE_AFTER = new Set([...CJK_PUNCTUATION, ...'+-/={(<[']);

/** bert4keras `_is_special`: a token written [xxx]. */
function isSpecial(token: string): boolean {
  return token.length > 0 && token.startsWith('[') && token.endsWith(']');
}

/**
 * Text from word pieces as bert4keras `Tokenizer.decode` writes it: special tokens dropped, CJK
 * characters joined without spaces, `##` pieces merged, spaces between other words, punctuation
 * followed by a space except CJK punctuation and + - / = { ( < [, "' s" contractions and "1. 5"
 * decimals closed up.
 */
export function decodeTokens(pieces: readonly string[]): string {
  const tokens = pieces.filter((token) => !isSpecial(token));
  let text = '';
  tokens.forEach((token, i) => {
    const single = codePointLength(token) === 1;
    if (token.startsWith('##')) text += token.slice(2);
    else if (single && isCjkCharacter(token)) text += token;
    else if (single && isBertPunctuation(token)) text += `${token} `;
    else if (i > 0 && text.length > 0 && isCjkCharacter(lastCodePoint(text))) text += token;
    else text += ` ${token}`;
  });
  text = text.replace(/ +/g, ' ');
  text = text.replace(/' (re|m|s|t|ve|d|ll) /g, "'$1 ");
  text = Array.from(text).filter((char, i, chars) => !(char === ' ' && i > 0 && NO_SPACE_AFTER.has(chars[i - 1]))).join('');
  text = text.replace(/(\d\.) (\d)/g, '$1$2');
  return text.trim();
}

function lastCodePoint(text: string): string {
  const chars = Array.from(text);
  return chars[chars.length - 1];
}

/** Text of generated ids in a vocabulary. */
export function decodeIds(ids: readonly number[], tokens: readonly string[]): string {
  return decodeTokens(ids.map((id) => tokens[id] ?? ''));
}
