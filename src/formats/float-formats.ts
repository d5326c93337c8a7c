/** Little-endian float32, float16 and bfloat16 element bytes widened to a fresh Float32Array. */

export type FloatFormat = 'float32' | 'float16' | 'bfloat16';

export const FLOAT_FORMAT_BYTES: Record<FloatFormat, number> = { float32: 4, float16: 2, bfloat16: 2 };

/** IEEE half precision to single, exactly (every half value is a float32 value). */
function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * fraction * 2 ** -24;
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * (1 + fraction / 1024) * 2 ** (exponent - 15);
}

/** `bytes` holds `count` elements of `format`, little-endian; the result never aliases `bytes`. */
export function toFloat32(bytes: Uint8Array, format: FloatFormat, count: number): Float32Array {
  const out = new Float32Array(count);
  if (format === 'float32') {
    new Uint8Array(out.buffer).set(bytes.subarray(0, count * 4));
    return out;
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, count * 2);
  if (format === 'float16') {
    for (let i = 0; i < count; i++) out[i] = halfToFloat(view.getUint16(2 * i, true));
    return out;
  }
  const widened = new Uint32Array(out.buffer);
  for (let i = 0; i < count; i++) widened[i] = view.getUint16(2 * i, true) << 16;
  return out;
}
