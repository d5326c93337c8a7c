import { codePointLength, isBertPunctuation, isCjkCharacter, isPythonWhitespace, pythonSplit } from './unicode.js';

/** A vocabulary file that cannot be used; the message starts with the file's name. */
export class VocabError extends Error {
  override readonly name = 'VocabError';
}

/** A WordPiece vocabulary: `tokens[id]` is the token of an id, `ids` the id of a token. */
export interface Vocab {
  tokens: string[];
  ids: Map<string, number>;
}

export interface LoadVocabOptions {
  /** Drop redundant tokens as bert4keras `load_vocab(simplified=True)` does. */
  simplified?: boolean;
  /** Tokens placed first, in this order, when simplifying; defaults to the SimBERT recipe's. */
  startswith?: string[];
}

export interface LoadedVocab {
  vocab: Vocab;
  /** With `simplified`: the original id of every kept token, in new-id order; otherwise null. */
  keepTokens: number[] | null;
}

/** The `startswith` of the SimBERT recipe: these four get ids 0..3 in a simplified vocab. */
export const SIMPLIFIED_VOCAB_STARTSWITH: readonly string[] = ['[PAD]', '[UNK]', '[CLS]', '[SEP]'];

const UTF8_REPLACEMENT_CHARACTER = [0xef, 0xbf, 0xbd];

/**
 * Decodes UTF-8 as Python's `open(encoding='utf-8', errors='ignore')` does (bert4keras opens
 * vocab files that way): invalid bytes are dropped and a leading BOM is kept as U+FEFF.
 * TextDecoder replaces invalid bytes with U+FFFD following the same maximal-subpart rule as
 * Python, so dropping them means removing those U+FFFD; the file's own U+FFFD characters
 * (bytes EF BF BD) must survive, so the bytes are cut around them first. EF is a lead byte and
 * never continues an earlier sequence, so the cuts never change how the rest decodes.
 */
function decodeUtf8DroppingInvalidBytes(bytes: Uint8Array): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    const lenient = new TextDecoder('utf-8', { ignoreBOM: true });
    const decodeWithoutReplacements = (start: number, end: number) =>
      lenient.decode(bytes.subarray(start, end)).replaceAll('\uFFFD', '');
    const pieces: string[] = [];
    let pieceStart = 0;
    for (let i = 0; i + 2 < bytes.length; i++) {
      if (bytes[i] === UTF8_REPLACEMENT_CHARACTER[0] && bytes[i + 1] === UTF8_REPLACEMENT_CHARACTER[1] &&
        bytes[i + 2] === UTF8_REPLACEMENT_CHARACTER[2]) {
        pieces.push(decodeWithoutReplacements(pieceStart, i));
        pieceStart = i + 3;
        i += 2;
      }
    }
    pieces.push(decodeWithoutReplacements(pieceStart, bytes.length));
    return pieces.join('\uFFFD');
  }
}

/**
 * The token of every line of a vocab file's text, as bert4keras reads it: Python iterates the
 * file in universal-newline mode (so '\r\n' and a lone '\r' end lines too, besides '\n'), and a
 * line's token is its first field split on Python whitespace, or '' when it has none. A final
 * line without a newline still counts; no line follows a final newline.
 */
export function vocabTokensFromText(text: string): string[] {
  if (text === '') return [];
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  if (lines[lines.length - 1] === '') lines.pop();
  return lines.map((line) => pythonSplit(line)[0] ?? '');
}

/** The raw token of each line of a vocab file's bytes (see vocabTokensFromText). */
export function vocabTokensFromBytes(bytes: Uint8Array): string[] {
  return vocabTokensFromText(decodeUtf8DroppingInvalidBytes(bytes));
}

/**
 * The id -> token table of a token -> id map: Python's `{v: k for k, v in token_dict.items()}`,
 * where a later key wins an id that two keys share. Ids that no key holds any more (only after
 * duplicate lines) fall back to `fallbackTokens[id]`.
 */
function tokensById(ids: Map<string, number>, fallbackTokens: readonly string[]): string[] {
  let largestId = -1;
  for (const id of ids.values()) largestId = Math.max(largestId, id);
  const tokens = fallbackTokens.slice(0, largestId + 1);
  for (const [token, id] of ids) tokens[id] = token;
  return tokens;
}

/**
 * bert4keras's test for a token that a simplified vocab drops: longer than one code point, and
 * its stem (without a leading '##') holds a CJK or punctuation character. Such a token can
 * never come out of the tokenizer, which splits every CJK and punctuation character off.
 */
function isRedundantToken(token: string): boolean {
  if (codePointLength(token) <= 1) return false;
  const stem = token.startsWith('##') ? token.slice(2) : token;
  for (const char of stem) {
    if (isCjkCharacter(char) || isBertPunctuation(char)) return true;
  }
  return false;
}

/**
 * A vocab from the raw tokens of a vocab file's lines, with bert4keras `load_vocab` semantics.
 * `source` names the vocab in errors.
 */
export function buildVocab(lineTokens: readonly string[], options: LoadVocabOptions = {}, source = 'vocabulary'): LoadedVocab {
  // `token_dict[token] = len(token_dict)`: a repeated token keeps its first position in the
  // dict but takes the dict's current size as its id, which may equal the id that the next
  // new token then also gets; Map.set reproduces both effects exactly. vocab-zh has no repeats.
  const originalIds = new Map<string, number>();
  for (const token of lineTokens) originalIds.set(token, originalIds.size);
  if (!options.simplified) {
    return { vocab: { tokens: tokensById(originalIds, lineTokens), ids: originalIds }, keepTokens: null };
  }

  const startswith = options.startswith ?? SIMPLIFIED_VOCAB_STARTSWITH;
  const ids = new Map<string, number>();
  const keepTokens: number[] = [];
  for (const token of startswith) {
    const originalId = originalIds.get(token);
    if (originalId === undefined) throw new VocabError(`${source}: no token '${token}', which the simplified vocabulary must start with`);
    if (ids.has(token)) throw new VocabError(`'${token}' is listed twice in the tokens a simplified vocabulary starts with`);
    ids.set(token, ids.size);
    keepTokens.push(originalId);
  }
  const byOriginalId = [...originalIds].sort((a, b) => a[1] - b[1]); // stable, as Python's sorted
  for (const [token, originalId] of byOriginalId) {
    if (ids.has(token) || isRedundantToken(token)) continue;
    ids.set(token, ids.size);
    keepTokens.push(originalId);
  }
  return { vocab: { tokens: [...ids.keys()], ids }, keepTokens };
}

/**
 * A vocab file's bytes read as bert4keras `load_vocab(path, simplified, startswith)`; `name`
 * starts every error message. A file with no lines is an error.
 */
export function parseVocab(bytes: Uint8Array, name: string, options: LoadVocabOptions = {}): LoadedVocab {
  const tokens = vocabTokensFromBytes(bytes);
  if (tokens.length === 0) throw new VocabError(`${name}: the vocabulary file is empty; expected one token per line`);
  return buildVocab(tokens, options, name);
}

/**
 * The text of a vocab file holding one token per line in id order (bert4keras `save_vocab`), so
 * that reading it gives back the same tokens and ids; refuses a vocab for which that would not
 * hold. `path` names the file in errors.
 */
export function vocabFileText(path: string, vocab: Vocab): string {
  vocab.tokens.forEach((token, id) => {
    for (const char of token) {
      if (isPythonWhitespace(char)) {
        throw new Error(`cannot write vocabulary file '${path}': token ${id} ${JSON.stringify(token)} contains whitespace, which reading splits on`);
      }
    }
    if (vocab.ids.get(token) !== id) {
      throw new Error(`cannot write vocabulary file '${path}': token ${id} ${JSON.stringify(token)} has id ${vocab.ids.get(token)} in the vocabulary's map`);
    }
  });
  if (vocab.ids.size !== vocab.tokens.length) {
    throw new Error(`cannot write vocabulary file '${path}': the vocabulary maps ${vocab.ids.size} tokens but lists ${vocab.tokens.length}`);
  }
  return vocab.tokens.map((token) => `${token}\n`).join('');
}
