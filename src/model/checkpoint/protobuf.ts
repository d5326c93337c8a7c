/**
 * The handful of protocol-buffer wire-format pieces the tensor bundle needs: varints, fixed32,
 * fixed64 and length-delimited fields. Decoding skips fields it does not know, as protobuf does.
 * Integers are JavaScript numbers; a varint beyond 2^53 is rejected rather than rounded.
 */

export const enum WireType {
  Varint = 0,
  Fixed64 = 1,
  LengthDelimited = 2,
  Fixed32 = 5,
}

/** Thrown for malformed bytes; callers add which file and which record it came from. */
export class ProtoDecodeError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtoDecodeError';
  }
}

export interface VarintRead {
  value: number;
  next: number;
}

/**
 * Reads a varint of up to 64 bits at `offset`. Values from 2^63 up are int64 negatives in two's
 * complement (how protobuf stores a dimension size of -1) and come back negative; any value that
 * a JavaScript number cannot hold exactly is refused rather than rounded.
 */
export function readVarint(bytes: Uint8Array, offset: number, end = bytes.length): VarintRead {
  let value = 0;
  let scale = 1;
  for (let i = offset, count = 0; count < 10; i++, count++) {
    if (i >= end) throw new ProtoDecodeError(`varint at byte ${offset} runs past the end of its ${end}-byte record`);
    const byte = bytes[i];
    value += (byte & 0x7f) * scale;
    if ((byte & 0x80) === 0) {
      if (Number.isSafeInteger(value)) return { value, next: i + 1 };
      return { value: wideVarint(bytes, offset, i + 1), next: i + 1 };
    }
    scale *= 128;
  }
  throw new ProtoDecodeError(`varint at byte ${offset} is longer than 10 bytes`);
}

function wideVarint(bytes: Uint8Array, start: number, end: number): number {
  let wide = 0n;
  for (let i = end - 1; i >= start; i--) wide = (wide << 7n) | BigInt(bytes[i] & 0x7f);
  const signed = BigInt.asIntN(64, wide);
  const value = Number(signed);
  if (!Number.isSafeInteger(value)) throw new ProtoDecodeError(`varint at byte ${start} (${wide}) does not fit in 53 bits`);
  return value;
}

/** Appends the varint encoding of a non-negative safe integer. */
export function pushVarint(out: number[], value: number): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`cannot encode ${value} as an unsigned varint`);
  while (value >= 0x80) {
    out.push((value % 0x80) | 0x80);
    value = Math.floor(value / 0x80);
  }
  out.push(value);
}

export interface ProtoField {
  fieldNumber: number;
  wireType: WireType;
  /** Varint value, or the fixed32 / fixed64 value as an unsigned number (fixed64 only if safe). */
  value: number;
  /** Payload of a length-delimited field (a view into the input). */
  bytes: Uint8Array;
}

/** Splits one encoded message into its fields, in the order they appear. */
export function decodeFields(message: Uint8Array): ProtoField[] {
  const fields: ProtoField[] = [];
  const view = new DataView(message.buffer, message.byteOffset, message.byteLength);
  const empty = new Uint8Array(0);
  let offset = 0;
  while (offset < message.length) {
    const key = readVarint(message, offset);
    offset = key.next;
    const fieldNumber = Math.floor(key.value / 8);
    const wireType = key.value % 8;
    if (fieldNumber === 0) throw new ProtoDecodeError(`field number 0 at byte ${offset}`);
    switch (wireType) {
      case WireType.Varint: {
        const read = readVarint(message, offset);
        fields.push({ fieldNumber, wireType, value: read.value, bytes: empty });
        offset = read.next;
        break;
      }
      case WireType.Fixed64: {
        if (offset + 8 > message.length) throw new ProtoDecodeError(`fixed64 field ${fieldNumber} runs past the end`);
        const value = Number(view.getBigUint64(offset, true));
        fields.push({ fieldNumber, wireType, value, bytes: empty });
        offset += 8;
        break;
      }
      case WireType.LengthDelimited: {
        const length = readVarint(message, offset);
        const start = length.next;
        if (start + length.value > message.length) {
          throw new ProtoDecodeError(`field ${fieldNumber} claims ${length.value} bytes but only ${message.length - start} remain`);
        }
        fields.push({ fieldNumber, wireType, value: length.value, bytes: message.subarray(start, start + length.value) });
        offset = start + length.value;
        break;
      }
      case WireType.Fixed32: {
        if (offset + 4 > message.length) throw new ProtoDecodeError(`fixed32 field ${fieldNumber} runs past the end`);
        fields.push({ fieldNumber, wireType, value: view.getUint32(offset, true), bytes: empty });
        offset += 4;
        break;
      }
      default:
        // Wire types 3 and 4 (groups) are deprecated and never appear in these protos.
        throw new ProtoDecodeError(`unsupported wire type ${wireType} for field ${fieldNumber}`);
    }
  }
  return fields;
}

/** Builds a message field by field; callers emit fields in field-number order, as protoc does. */
export class ProtoWriter {
  private readonly out: number[] = [];

  varint(fieldNumber: number, value: number): this {
    pushVarint(this.out, fieldNumber * 8 + WireType.Varint);
    pushVarint(this.out, value);
    return this;
  }

  /** A proto3 scalar: omitted when zero, exactly as protoc-generated code serializes it. */
  varintIfNonZero(fieldNumber: number, value: number): this {
    return value === 0 ? this : this.varint(fieldNumber, value);
  }

  fixed32(fieldNumber: number, value: number): this {
    pushVarint(this.out, fieldNumber * 8 + WireType.Fixed32);
    this.out.push(value & 0xff, (value >>> 8) & 0xff, (value >>> 16) & 0xff, (value >>> 24) & 0xff);
    return this;
  }

  fixed32IfNonZero(fieldNumber: number, value: number): this {
    return value === 0 ? this : this.fixed32(fieldNumber, value);
  }

  bytes(fieldNumber: number, payload: Uint8Array | number[]): this {
    pushVarint(this.out, fieldNumber * 8 + WireType.LengthDelimited);
    pushVarint(this.out, payload.length);
    for (const byte of payload) this.out.push(byte);
    return this;
  }

  finish(): Uint8Array {
    return Uint8Array.from(this.out);
  }
}
