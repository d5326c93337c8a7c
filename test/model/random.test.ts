import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SeededRandom } from '../../src/model/random.js';

// Reference outputs from the authors' C code of xoshiro128** and splitmix64, compiled separately.
test('xoshiro128** matches the reference outputs for the state 1, 2, 3, 4', () => {
  const random = SeededRandom.fromState({ algorithm: 'xoshiro128**', words: [1, 2, 3, 4] });
  const outputs = Array.from({ length: 6 }, () => random.nextUint32());
  assert.equal(outputs, [11520, 0, 5927040, 70819200, 2031721883, 1637235492]);
});

test('seeding through splitmix64 matches the reference for seed 42', () => {
  const random = new SeededRandom(42);
  assert.equal(random.state().words, [803958421, 3184996902, 2993090819, 686809907]);
  const outputs = Array.from({ length: 6 }, () => random.nextUint32());
  assert.equal(outputs, [1776835114, 4165204688, 17111135, 2317295270, 2792088233, 2554630222]);
});

test('a restored state continues the same sequence, also through JSON', () => {
  const original = new SeededRandom(7);
  for (let i = 0; i < 13; i++) original.nextFloat();
  const saved = JSON.parse(JSON.stringify(original.state()));
  const expected = Array.from({ length: 20 }, () => original.nextUint32());
  const resumed = new SeededRandom(999);
  resumed.restore(saved);
  assert.equal(Array.from({ length: 20 }, () => resumed.nextUint32()), expected);
});

test('different seeds give different sequences; bigint and negative seeds work', () => {
  const first = new SeededRandom(1).nextUint32();
  assert.is.not(first, new SeededRandom(2).nextUint32());
  assert.is(new SeededRandom(5n).nextUint32(), new SeededRandom(5).nextUint32());
  assert.is(new SeededRandom(-1).nextUint32(), new SeededRandom(2n ** 64n - 1n).nextUint32());
  assert.throws(() => new SeededRandom(0.5), /safe integer/);
});

test('nextInt stays in range and is close to uniform', () => {
  const random = new SeededRandom(3);
  const counts = new Array<number>(7).fill(0);
  const draws = 70000;
  for (let i = 0; i < draws; i++) {
    const value = random.nextInt(7);
    assert.ok(Number.isInteger(value) && value >= 0 && value < 7);
    counts[value]!++;
  }
  for (const count of counts) assert.ok(Math.abs(count - draws / 7) < 400, `count ${count}`);
  assert.throws(() => random.nextInt(0), /bound/);
  assert.is(random.nextInt(1), 0);
});

test('nextFloat lies in [0, 1) with mean 1/2; nextNormal has mean 0 and variance 1', () => {
  const random = new SeededRandom(11);
  let sum = 0;
  for (let i = 0; i < 50000; i++) {
    const value = random.nextFloat();
    assert.ok(value >= 0 && value < 1);
    sum += value;
  }
  assert.ok(Math.abs(sum / 50000 - 0.5) < 0.01);
  let mean = 0;
  let squares = 0;
  for (let i = 0; i < 50000; i++) {
    const value = random.nextNormal();
    mean += value / 50000;
    squares += (value * value) / 50000;
  }
  assert.ok(Math.abs(mean) < 0.02, `mean ${mean}`);
  assert.ok(Math.abs(squares - mean * mean - 1) < 0.03, `variance ${squares - mean * mean}`);
});

test('shuffle returns a permutation and pick chooses an element', () => {
  const random = new SeededRandom(5);
  const shuffled = random.shuffle(Array.from({ length: 50 }, (_, i) => i));
  assert.equal([...shuffled].sort((a, b) => a - b), Array.from({ length: 50 }, (_, i) => i));
  assert.is.not(shuffled.join(','), Array.from({ length: 50 }, (_, i) => i).join(','));
  assert.ok(['x', 'y'].includes(random.pick(['x', 'y'])));
  assert.throws(() => random.pick([]), /empty/);
});

test('restore rejects states that are not xoshiro128** states', () => {
  const random = new SeededRandom(1);
  assert.throws(() => random.restore({ algorithm: 'xoshiro128**', words: [0, 0, 0, 0] }), /not a xoshiro128\*\* state/);
  assert.throws(() => random.restore({ algorithm: 'xoshiro128**', words: [1, 2, 3, -4] }), /not a xoshiro128\*\* state/);
  assert.throws(() => random.restore({ algorithm: 'pcg', words: [1, 2, 3, 4] } as never), /not a xoshiro128\*\* state/);
});

test.run();
