/**
 * Exact top-k search by cosine similarity over a matrix of vectors (the pooled vectors of a
 * corpus). Scores are computed in float64 exactly as `cosineSimilarity` computes them (0 against
 * an all-zero vector); equal scores rank by corpus order.
 */

export interface SearchHit {
  /** Row of the vector in the corpus. */
  index: number;
  score: number;
}

/** `a` ranks below `b`: a lower score, or the same score and a later row. */
function worse(a: SearchHit, b: SearchHit): boolean {
  return a.score < b.score || (a.score === b.score && a.index > b.index);
}

/** A binary heap whose root is the worst hit kept, so the k best are found in O(n log k). */
class WorstFirstHeap {
  readonly items: SearchHit[] = [];

  push(hit: SearchHit): void {
    const items = this.items;
    items.push(hit);
    let i = items.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!worse(items[i] as SearchHit, items[parent] as SearchHit)) break;
      [items[i], items[parent]] = [items[parent] as SearchHit, items[i] as SearchHit];
      i = parent;
    }
  }

  get worst(): SearchHit {
    return this.items[0] as SearchHit;
  }

  replaceWorst(hit: SearchHit): void {
    const items = this.items;
    items[0] = hit;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < items.length && worse(items[left] as SearchHit, items[smallest] as SearchHit)) smallest = left;
      if (right < items.length && worse(items[right] as SearchHit, items[smallest] as SearchHit)) smallest = right;
      if (smallest === i) return;
      [items[i], items[smallest]] = [items[smallest] as SearchHit, items[i] as SearchHit];
      i = smallest;
    }
  }
}

/** Corpus vectors, rows of a [count, dim] array, with their norms computed once. */
export class CosineIndex {
  readonly count: number;
  private readonly squaredNorms: Float64Array;

  constructor(
    readonly vectors: Float32Array,
    readonly dim: number,
  ) {
    if (!Number.isInteger(dim) || dim <= 0) throw new RangeError(`vector dimension must be a positive integer, got ${dim}`);
    if (vectors.length % dim !== 0) throw new RangeError(`${vectors.length} values are not rows of ${dim}`);
    this.count = vectors.length / dim;
    this.squaredNorms = new Float64Array(this.count);
    for (let row = 0; row < this.count; row++) {
      let sum = 0;
      for (let i = row * dim; i < (row + 1) * dim; i++) {
        const x = vectors[i] as number;
        if (!Number.isFinite(x)) throw new RangeError(`corpus vector ${row} has a non-finite value ${x}`);
        sum += x * x;
      }
      this.squaredNorms[row] = sum;
    }
  }

  /** Cosine similarity of `query` with corpus row `row`. */
  score(query: ArrayLike<number>, row: number, querySquaredNorm = squaredNorm(query)): number {
    const normRow = this.squaredNorms[row] as number;
    if (normRow === 0 || querySquaredNorm === 0) return 0;
    let dot = 0;
    const offset = row * this.dim;
    for (let i = 0; i < this.dim; i++) dot += (this.vectors[offset + i] as number) * (query[i] as number);
    return dot / (Math.sqrt(normRow) * Math.sqrt(querySquaredNorm));
  }

  /** The min(k, count) rows most similar to `query`, best first; equal scores in row order. */
  search(query: ArrayLike<number>, k: number): SearchHit[] {
    if (query.length !== this.dim) throw new RangeError(`query has ${query.length} values, the corpus vectors ${this.dim}`);
    if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
    const queryNorm = squaredNorm(query);
    if (!Number.isFinite(queryNorm)) throw new RangeError('the query vector has a non-finite value');
    const heap = new WorstFirstHeap();
    for (let row = 0; row < this.count; row++) {
      const hit = { index: row, score: this.score(query, row, queryNorm) };
      if (heap.items.length < k) heap.push(hit);
      else if (worse(heap.worst, hit)) heap.replaceWorst(hit);
    }
    return heap.items.sort((a, b) => b.score - a.score || a.index - b.index);
  }
}

function squaredNorm(vector: ArrayLike<number>): number {
  let sum = 0;
  for (let i = 0; i < vector.length; i++) sum += (vector[i] as number) * (vector[i] as number);
  return sum;
}
