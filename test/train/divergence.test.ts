import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DIVERGENCE, DivergenceGuard } from '../../src/train/divergence.js';

test('a non-finite loss diverges at once', () => {
  assert.match(new DivergenceGuard().check(NaN) ?? '', /the loss is NaN/);
  assert.match(new DivergenceGuard().check(Infinity) ?? '', /the loss is Infinity/);
});

test('an exploding loss diverges only after the warm-up, measured against the running median', () => {
  const guard = new DivergenceGuard();
  assert.is(guard.check(9), null);
  assert.is(guard.check(200), null, 'during the warm-up any finite loss passes');
  for (let i = 2; i < DIVERGENCE.warmup; i++) assert.is(guard.check(5 + (i % 3)), null);
  assert.is(guard.check(60), null, 'ten times the median of about 6 is the bar');
  assert.match(guard.check(1966) ?? '', /the loss 1966 is more than 10 times the median 6\.\d+ of the last 21 steps/);
});

test('the window survives a resume: a restored guard judges as the original', () => {
  const guard = new DivergenceGuard();
  for (let i = 0; i < 30; i++) guard.check(2);
  const restored = new DivergenceGuard(guard.losses());
  assert.ok(restored.check(25) !== null);
  assert.ok(guard.check(25) !== null);
  assert.ok(guard.losses().length <= DIVERGENCE.window);
});

test.run();
