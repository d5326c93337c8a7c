import {
  codePointLength, isBertControl, isBertPunctuation, isBertSpace, isCjkCharacter, lowercaseAndNormalize, pythonSplit,
} from './unicode.js';
import type { Vocab } from './vocab.js';

export interface TokenizerOptions {
  /** bert4keras `do_lower_case`; true by default because the SimBERT recipe sets it. */
  doLowerCase?: boolean;
}

/** What the model takes for one input: tokens as shown, their ids and segment ids. */
export interface Encoding {
  /** Word pieces with [CLS]/[SEP]; a word that WordPiece cannot split is shown as [UNK]. */
  tokens: string[];
  ids: number[];
  segments: number[];
}

/** bert4keras `Tokenizer(word_maxlen=200)`: longer words are not split and become [UNK]. */
const MAX_WORD_LENGTH = 200;

export const PAD_TOKEN = '[PAD]';
export const UNK_TOKEN = '[UNK]';
export const CLS_TOKEN = '[CLS]';
export const SEP_TOKEN = '[SEP]';

/**
 * Removes pieces until the sequences hold at most `maxlen` tokens together: each time the
 * piece just before the final [SEP] of the longest sequence (the first of equally long ones)
 * goes, as bert4keras `truncate_sequences(maxlen, -2, ...)`.
 */
function truncateLongestFirst(maxlen: number, sequences: string[][]): void {
  let total = sequences.reduce((sum, sequence) => sum + sequence.length, 0);
  while (total > maxlen) {
    let longest = sequences[0];
    for (const sequence of sequences) if (sequence.length > longest.length) longest = sequence;
    longest.splice(longest.length - 2, 1);
    total--;
  }
}

/** The BERT WordPiece tokenizer of bert4keras (`bert4keras.tokenizers.Tokenizer`). */
export class Tokenizer {
  readonly padId: number;
  readonly unkId: number;
  readonly clsId: number;
  readonly sepId: number;
  private readonly doLowerCase: boolean;
  /** No substring longer than this (in code points) can be a token, so none is looked up. */
  private readonly longestTokenLength: number;

  constructor(readonly vocab: Vocab, options: TokenizerOptions = {}) {
    this.doLowerCase = options.doLowerCase ?? true;
    const special = [PAD_TOKEN, UNK_TOKEN, CLS_TOKEN, SEP_TOKEN];
    const missing = special.filter((token) => !vocab.ids.has(token));
    if (missing.length) throw new Error(`the vocabulary lacks ${missing.join(', ')}, which the tokenizer needs`);
    [this.padId, this.unkId, this.clsId, this.sepId] = special.map((token) => vocab.ids.get(token)!);
    let longest = 0;
    for (const token of vocab.ids.keys()) longest = Math.max(longest, codePointLength(token));
    this.longestTokenLength = longest;
  }

  /** The id of a token, or [UNK]'s id for a token the vocabulary lacks. */
  idOf(token: string): number {
    return this.vocab.ids.get(token) ?? this.unkId;
  }

  /** [CLS], the word pieces of `text`, [SEP]. */
  tokenize(text: string): string[] {
    return [CLS_TOKEN, ...this.wordPieces(text).map((piece) => this.displayed(piece)), SEP_TOKEN];
  }

  /**
   * `[CLS] first [SEP]` (segment 0), then `second [SEP]` (segment 1) when given, at most
   * `maxlen` tokens in all. Truncation follows bert4keras `encode`: both texts are tokenized as
   * `[CLS] x [SEP]` and cut to maxlen + 1 tokens together before the second [CLS] is dropped,
   * so the text with more word pieces loses its last one first, the first text on ties.
   */
  encode(first: string, second?: string, maxlen?: number): Encoding {
    const firstTokens = this.tokenize(first);
    const secondTokens = second === undefined ? null : this.tokenize(second);
    if (maxlen !== undefined) {
      // Below these limits bert4keras would start removing [CLS] itself.
      const smallest = secondTokens ? 3 : 2;
      if (!Number.isInteger(maxlen) || maxlen < smallest) {
        throw new RangeError(`maxlen must be an integer of at least ${smallest} ${secondTokens ? 'for a pair of texts' : 'for one text'}, got ${maxlen}`);
      }
      if (secondTokens) truncateLongestFirst(maxlen + 1, [firstTokens, secondTokens]);
      else truncateLongestFirst(maxlen, [firstTokens]);
    }
    const tokens = secondTokens ? [...firstTokens, ...secondTokens.slice(1)] : firstTokens;
    const secondStart = firstTokens.length;
    return {
      tokens,
      ids: tokens.map((token) => this.idOf(token)),
      segments: tokens.map((_, position) => (position < secondStart ? 0 : 1)),
    };
  }

  private displayed(piece: string): string {
    return this.vocab.ids.has(piece) ? piece : UNK_TOKEN;
  }

  /**
   * bert4keras `_tokenize`: normalise, put spaces around every CJK and punctuation character,
   * turn space characters into spaces, drop NUL, U+FFFD and control/format characters, split on
   * (Python) whitespace, then WordPiece each word. A word WordPiece cannot split stays whole.
   */
  private wordPieces(text: string): string[] {
    const normalized = this.doLowerCase ? lowercaseAndNormalize(text) : text;
    let spaced = '';
    for (const char of normalized) {
      if (isCjkCharacter(char) || isBertPunctuation(char)) spaced += ` ${char} `;
      else if (isBertSpace(char)) spaced += ' ';
      else if (char === '\0' || char === '\uFFFD' || isBertControl(char)) continue;
      else spaced += char;
    }
    return pythonSplit(spaced).flatMap((word) => this.splitWord(word));
  }

  /** Greedy longest-match-first WordPiece; pieces after the first carry a '##' prefix. */
  private splitWord(word: string): string[] {
    const chars = Array.from(word);
    if (chars.length > MAX_WORD_LENGTH) return [word];
    const pieces: string[] = [];
    let start = 0;
    while (start < chars.length) {
      let match: string | null = null;
      let end = Math.min(chars.length, start + this.longestTokenLength);
      for (; end > start; end--) {
        const candidate = (start > 0 ? '##' : '') + chars.slice(start, end).join('');
        if (this.vocab.ids.has(candidate)) {
          match = candidate;
          break;
        }
      }
      if (match === null) return [word];
      pieces.push(match);
      start = end;
    }
    return pieces;
  }
}
