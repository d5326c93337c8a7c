import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readNpyFile, writeFileAtomically, writeNpyFloat32 } from '../../src/node/npy-file.js';
import { encodeNpyFloat32, NpyError, readNpyFloat32 } from '../../src/train/npy.js';
import { randomArray } from '../support/random.js';

const scratch = mkdtempSync(join(tmpdir(), 'simbert-npy-'));

/** The header dict of a version 1.0 file, located by hand from the format's fixed layout. */
function headerOf(bytes: Uint8Array): { text: string; dataStart: number } {
  const length = bytes[8] | (bytes[9] << 8);
  return { text: Buffer.from(bytes.subarray(10, 10 + length)).toString('latin1'), dataStart: 10 + length };
}

test('version 1.0 layout: magic, header dict padded to 64 bytes with a final newline, little-endian data', () => {
  const data = Float32Array.from([1, -2.5, 3.25, 0, 1e-30, -0, 7, 8, 9, 10, 11, 12]);
  const bytes = encodeNpyFloat32(data, [3, 4]);
  assert.equal([...bytes.subarray(0, 8)], [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  const { text, dataStart } = headerOf(bytes);
  assert.is(dataStart % 64, 0);
  assert.ok(text.endsWith('\n'));
  assert.is(text.trimEnd(), "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }");
  assert.ok(/^[^\n]* *\n$/.test(text), 'padding is spaces before a single newline');
  assert.is(bytes.length, dataStart + 4 * data.length);
  const view = new DataView(bytes.buffer, bytes.byteOffset);
  data.forEach((value, i) => assert.ok(Object.is(view.getFloat32(dataStart + 4 * i, true), value), `value ${i}`));
});

test('shapes of any rank round-trip, including empty ones', () => {
  for (const shape of [[5, 7], [1, 1], [0, 16], [6], [2, 3, 4], []]) {
    const size = shape.reduce((p, d) => p * d, 1);
    const data = randomArray(size, 11 + size);
    const back = readNpyFloat32(encodeNpyFloat32(data, shape));
    assert.equal(back.shape, shape);
    assert.equal([...back.data], [...data]);
  }
  assert.match(headerOf(encodeNpyFloat32(new Float32Array(6), [6])).text, /'shape': \(6,\), }/);
  assert.match(headerOf(encodeNpyFloat32(new Float32Array(1), [])).text, /'shape': \(\), }/);
});

test('a shape that does not match the data is refused', () => {
  assert.throws(() => encodeNpyFloat32(new Float32Array(5), [2, 3]), /holds 6 values but 5/);
  assert.throws(() => encodeNpyFloat32(new Float32Array(0), [-1, 0]), /invalid dimension -1/);
});

test('the reader rejects files it cannot represent, naming the file', () => {
  const good = encodeNpyFloat32(Float32Array.from([1, 2, 3, 4]), [2, 2]);
  const replaceHeader = (from: string, to: string) => {
    const copy = Uint8Array.from(good);
    const { text } = headerOf(copy);
    const changed = text.replace(from, to);
    assert.is(changed.length, text.length);
    copy.set(Buffer.from(changed, 'latin1'), 10);
    return copy;
  };
  const cases: [Uint8Array, RegExp][] = [
    [Uint8Array.from([1, 2, 3]), /not a \.npy file/],
    [good.subarray(0, good.length - 1), /needs 16 data bytes but the file has 15/],
    [replaceHeader("'<f4'", "'<f8'"), /dtype <f8 is not little-endian float32/],
    [replaceHeader("'<f4'", "'>f4'"), /dtype >f4/],
    [replaceHeader('False', 'True '), /Fortran-ordered/],
    [replaceHeader('(2, 2)', '(2,,2)'), /invalid shape \(2,,2\)/],
    [replaceHeader('(2, 2)', '(2,0x)'), /invalid shape/],
    [replaceHeader('(2, 2)', '(4e0,)'), /invalid shape/],
    [replaceHeader('(2, 2)', '(,   )'), /invalid shape/],
  ];
  for (const [bytes, pattern] of cases) {
    assert.throws(() => readNpyFloat32(bytes, 'vectors.npy'), (error: unknown) => {
      assert.ok(error instanceof NpyError, String(error));
      assert.ok((error as Error).message.startsWith('vectors.npy: '), (error as Error).message);
      assert.match((error as Error).message, pattern);
      return true;
    });
  }
});

test('writeNpyFloat32 renames a complete temporary file into place and leaves nothing on failure', () => {
  const dir = mkdtempSync(join(scratch, 'write-'));
  const path = join(dir, 'vectors.npy');
  writeFileSync(path, 'old contents');
  const data = randomArray(3 * 8, 5);
  writeNpyFloat32(path, data, [3, 8]);
  assert.equal(readdirSync(dir), ['vectors.npy']);
  assert.equal([...readNpyFile(path).data], [...data]);
  const missingDir = join(dir, 'no-such-dir', 'vectors.npy');
  assert.throws(() => writeNpyFloat32(missingDir, data, [3, 8]), /cannot write '.*no-such-dir\/vectors\.npy'/);
  // A directory in the way: the rename fails and the temporary file is removed.
  const blocked = join(dir, 'blocked');
  mkdirSync(blocked);
  assert.throws(() => writeFileAtomically(blocked, 'text'), /cannot write '.*blocked'/);
  assert.equal(readdirSync(dir).sort(), ['blocked', 'vectors.npy']);
  assert.equal(readdirSync(blocked), []);
});

const numpy = spawnSync('python3', ['-c', 'import numpy'], { encoding: 'utf8' });
(numpy.status === 0 ? test : test.skip)('the bytes equal what numpy.save writes, and numpy.load reads ours', () => {
  const dir = mkdtempSync(join(scratch, 'numpy-'));
  const data = randomArray(5 * 3, 23);
  writeNpyFloat32(join(dir, 'ours.npy'), data, [5, 3]);
  writeFileSync(join(dir, 'values.f32'), Buffer.from(data.buffer));
  const script = [
    'import numpy as np, sys',
    `d = sys.argv[1]`,
    "a = np.fromfile(d + '/values.f32', dtype='<f4').reshape(5, 3)",
    "np.save(d + '/theirs.npy', a)",
    "b = np.load(d + '/ours.npy')",
    "assert b.dtype == np.dtype('<f4') and b.shape == (5, 3) and (a == b).all(), (b.dtype, b.shape)",
  ].join('\n');
  const result = spawnSync('python3', ['-c', script, dir], { encoding: 'utf8' });
  assert.is(result.status, 0, result.stderr);
  assert.equal([...readFileSync(join(dir, 'ours.npy'))], [...readFileSync(join(dir, 'theirs.npy'))]);
});

test.run();
