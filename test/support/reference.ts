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

export interface MatmulRef {
  batch: number;
  m: number;
  k: number;
  n: number;
  transA?: boolean;
  transB?: boolean;
}

export function matmul(a: ArrayLike<number>, b: ArrayLike<number>, s: MatmulRef, bias?: ArrayLike<number>, act?: 'gelu'): Float64Array {
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
