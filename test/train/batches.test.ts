import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { PairBatcher, defaultStepsPerEpoch, type TrainingBatch } from '../../src/train/batches.js';

/** 11 groups of 2 to 5 texts; text `g3t1` is text 1 of group 3. */
const groups: string[][] = Array.from({ length: 11 }, (_, group) => Array.from({ length: 2 + (group % 4) }, (_, text) => `g${group}t${text}`));
const totalTexts = groups.reduce((sum, group) => sum + group.length, 0);

function take(batcher: PairBatcher, count: number): TrainingBatch[] {
  return Array.from({ length: count }, () => batcher.next());
}

test('rows 2k and 2k+1 are (a, b) and (b, a), two different texts of the same group', () => {
  const batcher = new PairBatcher(groups, { batchSize: 6, seed: 1 });
  for (const batch of take(batcher, 40)) {
    assert.is(batch.rows.length, 2 * batch.groupIndices.length);
    batch.groupIndices.forEach((groupIndex, k) => {
      const forward = batch.rows[2 * k]!;
      const backward = batch.rows[2 * k + 1]!;
      assert.is.not(forward.source, forward.target);
      assert.equal(backward, { source: forward.target, target: forward.source });
      assert.ok(groups[groupIndex]!.includes(forward.source) && groups[groupIndex]!.includes(forward.target));
    });
  }
});

test('each pass visits every group once; the short last batch is kept; the next pass reshuffles', () => {
  const batcher = new PairBatcher(groups, { batchSize: 4, seed: 2 });
  assert.is(batcher.batchesPerPass, 6);
  const batches = take(batcher, 12);
  const passes = [batches.slice(0, 6), batches.slice(6)];
  passes.forEach((pass, passIndex) => {
    assert.equal(pass.map((batch) => batch.rows.length), [4, 4, 4, 4, 4, 2]);
    assert.ok(pass.every((batch) => batch.pass === passIndex));
    const visited = pass.flatMap((batch) => batch.groupIndices);
    assert.equal([...visited].sort((a, b) => a - b), groups.map((_, index) => index));
  });
  assert.is.not(passes[0]!.flatMap((b) => b.groupIndices).join(','), passes[1]!.flatMap((b) => b.groupIndices).join(','));
  assert.equal(batches.map((batch) => batch.step), Array.from({ length: 12 }, (_, i) => i));
});

test('without shuffling every pass is in file order', () => {
  const batcher = new PairBatcher(groups, { batchSize: 8, seed: 3, shuffle: false });
  const order = take(batcher, 6).flatMap((batch) => batch.groupIndices);
  const fileOrder = groups.map((_, index) => index);
  assert.equal(order, [...fileOrder, ...fileOrder]);
});

test('the same seed gives the same batches; another seed gives others', () => {
  const describe = (batches: TrainingBatch[]) => JSON.stringify(batches);
  const first = describe(take(new PairBatcher(groups, { batchSize: 6, seed: 9 }), 30));
  assert.is(describe(take(new PairBatcher(groups, { batchSize: 6, seed: 9 }), 30)), first);
  assert.is.not(describe(take(new PairBatcher(groups, { batchSize: 6, seed: 10 }), 30)), first);
});

test('a batcher restored mid-pass continues exactly like an uninterrupted one', () => {
  const uninterrupted = take(new PairBatcher(groups, { batchSize: 6, seed: 4 }), 50);
  for (const stopAfter of [1, 3, 5, 17, 30]) {
    const interrupted = new PairBatcher(groups, { batchSize: 6, seed: 4 });
    const before = take(interrupted, stopAfter);
    const saved = JSON.parse(JSON.stringify(interrupted.state()));
    // A fresh process: a new batcher, even with another seed, continues from the saved state.
    const resumed = new PairBatcher(groups, { batchSize: 6, seed: 12345 });
    resumed.restore(saved);
    const after = take(resumed, 50 - stopAfter);
    assert.equal([...before, ...after], uninterrupted, `stopping after ${stopAfter}`);
  }
});

test('epoch() yields stepsPerEpoch batches and runs on into the next pass', () => {
  const batcher = new PairBatcher(groups, { batchSize: 4, seed: 5 });
  assert.is(batcher.stepsPerEpoch, Math.floor(totalTexts / 4));
  const epoch = [...batcher.epoch()];
  assert.is(epoch.length, batcher.stepsPerEpoch);
  assert.ok(epoch.length > batcher.batchesPerPass);
  assert.is(epoch[epoch.length - 1]!.pass, 1);
  assert.is([...batcher.epoch()][0]!.step, batcher.stepsPerEpoch);
  assert.is(new PairBatcher(groups, { batchSize: 4, seed: 5, stepsPerEpoch: 3 }).stepsPerEpoch, 3);
});

test('default steps per epoch: floor(sum of group sizes / batch size), at least 1', () => {
  assert.is(defaultStepsPerEpoch([['a', 'b', 'c'], ['d', 'e']], 2), 2);
  assert.is(defaultStepsPerEpoch([['a', 'b', 'c'], ['d', 'e']], 4), 1);
  assert.is(defaultStepsPerEpoch([['a', 'b']], 16), 1);
  assert.is(defaultStepsPerEpoch(groups, 16), Math.floor(totalTexts / 16));
});

test('every ordered pair of a group is equally likely', () => {
  const batcher = new PairBatcher([['x', 'y', 'z']], { batchSize: 2, seed: 6 });
  const counts = new Map<string, number>();
  const draws = 30000;
  for (let i = 0; i < draws; i++) {
    const row = batcher.next().rows[0]!;
    const key = `${row.source}${row.target}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  assert.equal([...counts.keys()].sort(), ['xy', 'xz', 'yx', 'yz', 'zx', 'zy']);
  for (const count of counts.values()) assert.ok(Math.abs(count - draws / 6) < 300, `count ${count}`);
});

test('an odd, zero or fractional batch size is rejected; so are groups that cannot make a pair', () => {
  assert.throws(() => new PairBatcher(groups, { batchSize: 15, seed: 1 }), /must be an even number >= 2; got 15/);
  assert.throws(() => new PairBatcher(groups, { batchSize: 0, seed: 1 }), /even number >= 2/);
  assert.throws(() => new PairBatcher(groups, { batchSize: 2.5, seed: 1 }), /even number >= 2/);
  assert.throws(() => new PairBatcher([], { batchSize: 2, seed: 1 }), /no groups/);
  assert.throws(() => new PairBatcher([['a', 'b'], ['c']], { batchSize: 2, seed: 1 }), /group 1 has 1 text/);
  assert.throws(() => new PairBatcher(groups, { batchSize: 2, seed: 1, stepsPerEpoch: 0 }), /steps per epoch/);
});

test('restore refuses a state made for other groups, batch size or shuffle flag, or a damaged one', () => {
  const state = new PairBatcher(groups, { batchSize: 4, seed: 7 }).state();
  const otherTexts = groups.map((group) => group.map((text) => `${text}!`));
  assert.throws(() => new PairBatcher(otherTexts, { batchSize: 4, seed: 7 }).restore(state), /its groups hold different texts/);
  assert.throws(() => new PairBatcher(groups.slice(1), { batchSize: 4, seed: 7 }).restore(state), /it has 11 groups, this batcher 10/);
  assert.throws(() => new PairBatcher(groups, { batchSize: 6, seed: 7 }).restore(state), /its batch size is 4/);
  assert.throws(() => new PairBatcher(groups, { batchSize: 4, seed: 7, shuffle: false }).restore(state), /its shuffle flag is true/);
  const damaged = { ...state, order: state.order.map(() => 0) };
  assert.throws(() => new PairBatcher(groups, { batchSize: 4, seed: 7 }).restore(damaged), /not a permutation/);
  assert.throws(() => new PairBatcher(groups, { batchSize: 4, seed: 7 }).restore({ ...state, positionInPass: -1 }), /out of range/);
});

test.run();
