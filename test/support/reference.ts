import type { MatmulShape } from '../../src/kernels/matmul.js';

/** CPU reference implementations in float64, the specification the kernels are tested against. */

/** erf in float64: Taylor series below 2.5, the continued fraction of erfc above. */
export function erf(x: number): number {
  const z = Math.abs(x);
  if (z >= 2.5) {
    let fraction = z;
    for (let n = 80; n >= 1; n--) fraction = z + n / 2 / fraction;
    const erfc = Math.exp(-z * z) / (Math.sqrt(Math.PI) * fraction);
    return Math.sign(x) * (1 - erfc);
  }
  let term = x;
  let total = x;
  for (let n = 1; n < 200; n++) {
    term *= (-x * x) / n;
    const contribution = term / (2 * n + 1);
    total += contribution;
    if (Math.abs(contribution) < 1e-17 * Math.abs(total)) break;
  }
  return (2 / Math.sqrt(Math.PI)) * total;
}

export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

export function geluGrad(x: number): number {
  return 0.5 * (1 + erf(x / Math.SQRT2)) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
}

export function matmul(a: ArrayLike<number>, b: ArrayLike<number>, s: MatmulShape, bias?: ArrayLike<number>, act?: 'gelu'): Float64Array {
  const out = new Float64Array(s.batch * s.m * s.n);
  for (let z = 0; z < s.batch; z++) {
    for (let i = 0; i < s.m; i++) {
      for (let j = 0; j < s.n; j++) {
        let total = 0;
        for (let p = 0; p < s.k; p++) {
          const av = a[z * s.m * s.k + (s.transA ? p * s.m + i : i * s.k + p)];
          const bv = b[z * s.k * s.n + (s.transB ? j * s.k + p : p * s.n + j)];
          total += av * bv;
        }
        if (bias) total += bias[j];
        out[z * s.m * s.n + i * s.n + j] = act === 'gelu' ? gelu(total) : total;
      }
    }
  }
  return out;
}

export function layerNorm(x: ArrayLike<number>, gamma: ArrayLike<number>, beta: ArrayLike<number>, rows: number, cols: number, eps: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let mean = 0;
    for (let c = 0; c < cols; c++) mean += x[r * cols + c];
    mean /= cols;
    let variance = 0;
    for (let c = 0; c < cols; c++) variance += (x[r * cols + c] - mean) ** 2;
    variance /= cols;
    const rstd = 1 / Math.sqrt(variance + eps);
    for (let c = 0; c < cols; c++) out[r * cols + c] = (x[r * cols + c] - mean) * rstd * gamma[c] + beta[c];
  }
  return out;
}

export function softmax(x: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let r = 0; r < rows; r++) {
    let top = -Infinity;
    for (let c = 0; c < cols; c++) top = Math.max(top, x[r * cols + c]);
    let total = 0;
    for (let c = 0; c < cols; c++) total += (out[r * cols + c] = Math.exp(x[r * cols + c] - top));
    for (let c = 0; c < cols; c++) out[r * cols + c] /= total;
  }
  return out;
}

export function embeddingGather(table: ArrayLike<number>, ids: ArrayLike<number>, cols: number): Float64Array {
  const out = new Float64Array(ids.length * cols);
  for (let t = 0; t < ids.length; t++) for (let c = 0; c < cols; c++) out[t * cols + c] = table[ids[t] * cols + c];
  return out;
}

export function embeddingScatterAdd(dy: ArrayLike<number>, ids: ArrayLike<number>, rows: number, cols: number): Float64Array {
  const out = new Float64Array(rows * cols);
  for (let t = 0; t < ids.length; t++) for (let c = 0; c < cols; c++) out[ids[t] * cols + c] += dy[t * cols + c];
  return out;
}

/** The dropout generator's 32 bits for element `index` (u32 arithmetic, as the WGSL). */
export function dropoutBits(seed: number, index: number): number {
  const mix = (x: number): number => {
    let h = x >>> 0;
    h = (h ^ (h >>> 16)) >>> 0;
    h = Math.imul(h, 0x7feb352d) >>> 0;
    h = (h ^ (h >>> 15)) >>> 0;
    h = Math.imul(h, 0x846ca68b) >>> 0;
    return (h ^ (h >>> 16)) >>> 0;
  };
  const key = mix((seed ^ 0x9e3779b9) >>> 0);
  return mix((mix((index ^ key) >>> 0) + (seed >>> 0)) >>> 0);
}

/** The inverted-dropout multiplier of element `index`: 0 when dropped, 1 / (1 - rate) when kept. */
export function dropoutFactor(rate: number, seed: number, index: number): number {
  const threshold = Math.min(0xffffffff, Math.round(rate * 2 ** 32));
  return dropoutBits(seed, index) >= threshold ? 1 / (1 - rate) : 0;
}

export interface AttentionRef {
  batch: number;
  seqLen: number;
  heads: number;
  tokenIds: ArrayLike<number>;
  segmentIds: ArrayLike<number>;
  dropout?: { rate: number; seed: number };
}

/**
 * UniLM attention, q, k, v [batch, seqLen, hidden], head h on columns h*d..h*d+d-1. Query i sees
 * key j iff cumsum(seg)[j] <= cumsum(seg)[i] and tokenIds[j] != 0; a query that sees no key
 * outputs zeros. Dropout multiplies probability (b, h, i, j) by dropoutFactor of its flat index.
 */
export function unilmAttention(q: ArrayLike<number>, k: ArrayLike<number>, v: ArrayLike<number>, s: AttentionRef): Float64Array {
  const { batch, seqLen: T, heads } = s;
  const hidden = q.length / (batch * T);
  const d = hidden / heads;
  const out = new Float64Array(batch * T * hidden);
  const scores = new Float64Array(T);
  for (let b = 0; b < batch; b++) {
    const c = new Float64Array(T);
    for (let t = 0, run = 0; t < T; t++) c[t] = run += s.segmentIds[b * T + t];
    for (let h = 0; h < heads; h++) {
      for (let i = 0; i < T; i++) {
        let top = -Infinity;
        for (let j = 0; j < T; j++) {
          const allowed = c[j] <= c[i] && s.tokenIds[b * T + j] !== 0;
          let dot = 0;
          for (let e = 0; e < d; e++) dot += q[(b * T + i) * hidden + h * d + e] * k[(b * T + j) * hidden + h * d + e];
          scores[j] = allowed ? dot / Math.sqrt(d) : -Infinity;
          top = Math.max(top, scores[j]);
        }
        if (top === -Infinity) continue;
        let total = 0;
        for (let j = 0; j < T; j++) total += scores[j] = Math.exp(scores[j] - top);
        for (let j = 0; j < T; j++) {
          let p = scores[j] / total;
          if (s.dropout) p *= dropoutFactor(s.dropout.rate, s.dropout.seed, ((b * heads + h) * T + i) * T + j);
          for (let e = 0; e < d; e++) out[(b * T + i) * hidden + h * d + e] += p * v[(b * T + j) * hidden + h * d + e];
        }
      }
    }
  }
  return out;
}

/** Mean over rows with target >= 0 of logsumexp(row) - row[target]; 0 when every row is ignored. */
export function softmaxCrossEntropy(logits: ArrayLike<number>, targets: ArrayLike<number>, vocab: number): number {
  let total = 0;
  let count = 0;
  for (let r = 0; r < targets.length; r++) {
    if (targets[r] < 0) continue;
    let top = -Infinity;
    for (let c = 0; c < vocab; c++) top = Math.max(top, logits[r * vocab + c]);
    let sum = 0;
    for (let c = 0; c < vocab; c++) sum += Math.exp(logits[r * vocab + c] - top);
    total += top + Math.log(sum) - logits[r * vocab + targets[r]];
    count++;
  }
  return count === 0 ? 0 : total / count;
}

/**
 * SimBERT's similarity loss: z = x / sqrt(max(|x|^2, 1e-12)) per row, S = scale * z z^T with the
 * diagonal excluded (the -1e12 * scale of Keras gives it probability 0), mean over rows of the
 * cross-entropy of row i against column i^1.
 */
export function similarityLoss(pooled: ArrayLike<number>, rows: number, hidden: number, scale = 30): number {
  const z = new Float64Array(rows * hidden);
  for (let r = 0; r < rows; r++) {
    let squares = 0;
    for (let c = 0; c < hidden; c++) squares += pooled[r * hidden + c] ** 2;
    const inv = 1 / Math.sqrt(Math.max(squares, 1e-12));
    for (let c = 0; c < hidden; c++) z[r * hidden + c] = pooled[r * hidden + c] * inv;
  }
  let total = 0;
  for (let i = 0; i < rows; i++) {
    const s = new Float64Array(rows);
    let top = -Infinity;
    for (let j = 0; j < rows; j++) {
      if (j === i) continue;
      let dot = 0;
      for (let c = 0; c < hidden; c++) dot += z[i * hidden + c] * z[j * hidden + c];
      s[j] = scale * dot;
      top = Math.max(top, s[j]);
    }
    let sum = 0;
    for (let j = 0; j < rows; j++) if (j !== i) sum += Math.exp(s[j] - top);
    total += top + Math.log(sum) - s[i ^ 1];
  }
  return total / rows;
}

export interface AdamWRef {
  lr: number;
  weightDecay: number;
  beta1: number;
  beta2: number;
  epsilon: number;
}

/** One bert4keras AdamW step (t counts from 1), updating p, m, v in place. */
export function adamwStep(p: Float64Array, g: ArrayLike<number>, m: Float64Array, v: Float64Array, t: number, o: AdamWRef): void {
  for (let i = 0; i < p.length; i++) {
    m[i] = o.beta1 * m[i] + (1 - o.beta1) * g[i];
    v[i] = o.beta2 * v[i] + (1 - o.beta2) * g[i] * g[i];
    const mHat = m[i] / (1 - o.beta1 ** t);
    const vHat = v[i] / (1 - o.beta2 ** t);
    p[i] -= o.lr * (mHat / (Math.sqrt(vHat) + o.epsilon) + o.weightDecay * p[i]);
  }
}

/** Cosine of two vectors, accumulated in float64. */
export function cosine(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return dot / Math.sqrt(na * nb);
}
