/**
 * A small seeded pseudo-random generator: xoshiro128** (Blackman and Vigna) on four 32-bit
 * words, seeded through splitmix64 as its authors recommend. Its whole state is four unsigned
 * integers, so it serialises to JSON and a restored generator continues the same sequence.
 */

/** The serialisable state of a {@link SeededRandom}. */
export interface RandomState {
  algorithm: 'xoshiro128**';
  words: [number, number, number, number];
}

const TWO_POW_32 = 0x1_0000_0000;
const UINT64_MASK = (1n << 64n) - 1n;

function rotateLeft(value: number, bits: number): number {
  return ((value << bits) | (value >>> (32 - bits))) >>> 0;
}

/** splitmix64 outputs for the given seed, as the 32-bit halves [low, high] of each output. */
function splitmix64Words(seed: bigint, outputs: number): number[] {
  let counter = BigInt.asUintN(64, seed);
  const words: number[] = [];
  for (let i = 0; i < outputs; i++) {
    counter = (counter + 0x9e3779b97f4a7c15n) & UINT64_MASK;
    let z = counter;
    z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & UINT64_MASK;
    z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & UINT64_MASK;
    z ^= z >> 31n;
    words.push(Number(z & 0xffffffffn), Number(z >> 32n));
  }
  return words;
}

function isUint32(value: unknown): value is number {
  return typeof value === 'number' && Number.isInteger(value) && value >= 0 && value < TWO_POW_32;
}

export class SeededRandom {
  private s0: number;
  private s1: number;
  private s2: number;
  private s3: number;

  /** A generator seeded from any safe integer (negative seeds are taken modulo 2^64) or bigint. */
  constructor(seed: number | bigint) {
    if (typeof seed === 'number' && !Number.isSafeInteger(seed)) {
      throw new RangeError(`seed must be a safe integer, got ${seed}`);
    }
    const [a, b, c, d] = splitmix64Words(BigInt(seed), 2) as [number, number, number, number];
    this.s0 = a;
    this.s1 = b;
    this.s2 = c;
    this.s3 = d;
    // xoshiro's only forbidden state; splitmix64 cannot produce it for two consecutive outputs,
    // but guarding costs nothing.
    if ((a | b | c | d) === 0) this.s0 = 1;
  }

  /** A generator that continues from a state returned by {@link state}. */
  static fromState(state: RandomState): SeededRandom {
    const random = new SeededRandom(0);
    random.restore(state);
    return random;
  }

  state(): RandomState {
    return { algorithm: 'xoshiro128**', words: [this.s0, this.s1, this.s2, this.s3] };
  }

  restore(state: RandomState): void {
    const words: unknown = state?.words;
    if (
      state?.algorithm !== 'xoshiro128**' ||
      !Array.isArray(words) ||
      words.length !== 4 ||
      !words.every(isUint32) ||
      words.every((word) => word === 0)
    ) {
      throw new Error(`not a xoshiro128** state: ${JSON.stringify(state)}`);
    }
    [this.s0, this.s1, this.s2, this.s3] = words as [number, number, number, number];
  }

  /** A uniform integer in [0, 2^32). */
  nextUint32(): number {
    const result = Math.imul(rotateLeft(Math.imul(this.s1, 5) >>> 0, 7), 9) >>> 0;
    const shifted = (this.s1 << 9) >>> 0;
    this.s2 = (this.s2 ^ this.s0) >>> 0;
    this.s3 = (this.s3 ^ this.s1) >>> 0;
    this.s1 = (this.s1 ^ this.s2) >>> 0;
    this.s0 = (this.s0 ^ this.s3) >>> 0;
    this.s2 = (this.s2 ^ shifted) >>> 0;
    this.s3 = rotateLeft(this.s3, 11);
    return result;
  }

  /** A uniform float in [0, 1) with 53 random bits. */
  nextFloat(): number {
    const high = this.nextUint32() >>> 5; // 27 bits
    const low = this.nextUint32() >>> 6; // 26 bits
    return (high * 67108864 + low) / 9007199254740992;
  }

  /** A uniform integer in [0, bound), without modulo bias; bound is an integer in [1, 2^32]. */
  nextInt(bound: number): number {
    if (!Number.isInteger(bound) || bound < 1 || bound > TWO_POW_32) {
      throw new RangeError(`bound must be an integer in [1, 2^32], got ${bound}`);
    }
    // Reject the top partial block of [0, 2^32) so that every residue is equally likely.
    const limit = TWO_POW_32 - (TWO_POW_32 % bound);
    let value = this.nextUint32();
    while (value >= limit) value = this.nextUint32();
    return value % bound;
  }

  /** A standard normal sample (Box-Muller; one of the pair is discarded to keep the state small). */
  nextNormal(): number {
    const u1 = 1 - this.nextFloat(); // (0, 1], so the log is finite
    const u2 = this.nextFloat();
    return Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
  }

  /** Shuffles the array in place (Fisher-Yates) and returns it. */
  shuffle<T>(items: T[]): T[] {
    for (let i = items.length - 1; i > 0; i--) {
      const j = this.nextInt(i + 1);
      const held = items[i] as T;
      items[i] = items[j] as T;
      items[j] = held;
    }
    return items;
  }

  /** One element chosen uniformly. */
  pick<T>(items: readonly T[]): T {
    if (items.length === 0) throw new RangeError('cannot pick from an empty list');
    return items[this.nextInt(items.length)] as T;
  }
}
