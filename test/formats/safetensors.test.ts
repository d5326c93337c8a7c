import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readSafetensors, writeSafetensors } from '../../src/formats/safetensors.js';

const NAME = 'dir/model.safetensors';

/** A safetensors file from a header object and data bytes, built by hand (not by the writer under test). */
function handBuilt(header: unknown, data: Uint8Array | number[], headerLength?: number): Uint8Array {
  const json = new TextEncoder().encode(JSON.stringify(header));
  const out = new Uint8Array(8 + json.length + data.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLength ?? json.length), true);
  out.set(json, 8);
  out.set(data, 8 + json.length);
  return out;
}

test('writer and reader round-trip float32 tensors, shapes, order and metadata', () => {
  const tensors = [
    { name: 'b.weight', shape: [2, 3], data: Float32Array.from([1, -2, 3.5, 0, 1e-30, -1e30]) },
    { name: 'a.bias', shape: [3], data: Float32Array.from([0.25, NaN, -0]) },
    { name: 'scalar', shape: [], data: Float32Array.from([7]) },
  ];
  const bytes = writeSafetensors(tensors, { format: 'pt' });
  const headerLength = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  assert.is(headerLength % 8, 0, 'the header is padded so the data is aligned');
  const file = readSafetensors(bytes, NAME);
  assert.equal(file.metadata, { format: 'pt' });
  assert.equal(file.tensors.map((entry) => entry.name), ['b.weight', 'a.bias', 'scalar']);
  for (const tensor of tensors) {
    assert.equal(file.get(tensor.name)?.shape, tensor.shape);
    assert.equal(file.get(tensor.name)?.dtype, 'F32');
    const read = file.readFloat32(tensor.name);
    assert.equal(new Uint8Array(read.buffer), new Uint8Array(tensor.data.buffer), tensor.name);
  }
});

test('F16 and BF16 widen exactly to float32; other dtypes are listed but not read as weights', () => {
  // F16: 1.0 = 0x3c00, -2.0 = 0xc000, smallest subnormal 0x0001 = 2^-24, 65504 = 0x7bff, inf = 0x7c00.
  // BF16: the top half of a float32: 1.0 = 0x3f80, -1.5 = 0xbfc0.
  const data = [0x00, 0x3c, 0x00, 0xc0, 0x01, 0x00, 0xff, 0x7b, 0x00, 0x7c, 0x80, 0x3f, 0xc0, 0xbf, 5, 0, 0, 0, 0, 0, 0, 0];
  const file = readSafetensors(handBuilt({
    half: { dtype: 'F16', shape: [5], data_offsets: [0, 10] },
    brain: { dtype: 'BF16', shape: [2], data_offsets: [10, 14] },
    ids: { dtype: 'I64', shape: [1], data_offsets: [14, 22] },
  }, data), NAME);
  assert.equal([...file.readFloat32('half')], [1, -2, 2 ** -24, 65504, Infinity]);
  assert.equal([...file.readFloat32('brain')], [1, -1.5]);
  assert.is(file.metadata, null);
  assert.throws(() => file.readFloat32('ids'), /dir\/model\.safetensors: tensor 'ids' is I64; only F32, F16 and BF16/);
  assert.throws(() => file.readFloat32('nope'), /dir\/model\.safetensors: no tensor named 'nope'/);
});

test('malformed files are refused with a message naming the file and what is wrong', () => {
  const entry = (begin: number, end: number, dtype = 'F32') => ({ dtype, shape: [(end - begin) / 4], data_offsets: [begin, end] });
  const cases: [string, Uint8Array, RegExp][] = [
    ['too short', Uint8Array.from([1, 2, 3]), /3 bytes is too short/],
    ['header past the end', handBuilt({ a: entry(0, 4) }, new Uint8Array(4), 5000), /the 5000-byte header runs past the end of the \d+-byte file/],
    ['header over 100 MB', handBuilt({}, [], 100_000_001), /claims 100000001 bytes; headers over 100000000 bytes are refused/],
    ['header of 2^64 - 1 bytes', (() => { const b = new Uint8Array(16).fill(0xff); return b; })(), /claims 18446744073709551615 bytes/],
    ['not JSON', handBuilt({}, []).map((byte, i) => (i === 8 ? 0x5b : byte)), /header is not valid UTF-8 JSON/],
    ['not an object', handBuilt([1, 2], []), /header is \[1,2\], expected a JSON object/],
    ['overlapping ranges', handBuilt({ a: entry(0, 8), b: entry(4, 12) }, new Uint8Array(12)), /tensor 'b' \(bytes 4\.\.12 of the data\) overlaps the tensor before it/],
    ['a gap', handBuilt({ a: entry(0, 4), b: entry(8, 12) }, new Uint8Array(12)), /data bytes 4\.\.8 belong to no tensor \(a gap before 'b'\)/],
    ['a gap at the start', handBuilt({ a: entry(4, 8) }, new Uint8Array(8)), /data bytes 0\.\.4 belong to no tensor/],
    ['trailing bytes', handBuilt({ a: entry(0, 4) }, new Uint8Array(6)), /the last 2 bytes of the file belong to no tensor/],
    ['truncated data', handBuilt({ a: entry(0, 8) }, new Uint8Array(4)), /need 8 data bytes but the file has 4; it is truncated/],
    ['unknown dtype', handBuilt({ a: entry(0, 4, 'F31') }, new Uint8Array(4)), /tensor 'a' has unknown dtype "F31"/],
    ['size mismatch', handBuilt({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 4] } }, new Uint8Array(4)), /tensor 'a' is F32 of shape \[2\], which is 8 bytes, but data_offsets \[0, 4\] hold 4/],
    ['reversed offsets', handBuilt({ a: { dtype: 'F32', shape: [0], data_offsets: [4, 0] } }, new Uint8Array(4)), /data_offsets \[4,0\], expected \[begin, end\]/],
    ['negative shape', handBuilt({ a: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, new Uint8Array(4)), /has shape \[-1\], expected a list of sizes/],
    ['huge shape', handBuilt({ a: { dtype: 'F32', shape: [2 ** 40, 2 ** 40], data_offsets: [0, 4] } }, new Uint8Array(4)), /too many elements/],
    ['bad metadata', handBuilt({ __metadata__: { format: 1 } }, []), /"__metadata__" must be an object of strings/],
    ['entry not an object', handBuilt({ a: 3 }, []), /tensor 'a' has header entry 3/],
  ];
  for (const [what, bytes, pattern] of cases) {
    try {
      readSafetensors(bytes, NAME);
      assert.unreachable(`${what}: accepted`);
    } catch (error) {
      const message = (error as Error).message;
      assert.ok(message.startsWith(`${NAME}: `), `${what}: ${message}`);
      assert.match(message, pattern, what);
    }
  }
});

test('an empty file of no tensors is valid', () => {
  assert.equal(readSafetensors(writeSafetensors([]), NAME).tensors, []);
});

test.run();
