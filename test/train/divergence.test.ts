import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { DIVERGENCE, DivergenceGuard } from '../../src/train/divergence.js';

test('a non-finite loss diverges at once', () => {
  assert.match(new DivergenceGuard().check(NaN) ?? '', /the loss is NaN/);
  assert.match(new DivergenceGuard().check(Infinity) ?? '', /the loss is Infinity/);
});

test('the --lr 3 explosion (9 -> 91 -> 171) is caught against the first loss, which the window would follow upwards', () => {
  const guard = new DivergenceGuard();
  assert.is(guard.check(9.44), null);
  assert.is(guard.check(91.29), null, 'just under ten times');
  assert.match(guard.check(171.2) ?? '', /the loss 171\.2 is more than 10 times the first step's loss 9\.440/);
});

test('a falling loss is judged against the running median, so a later spike counts too', () => {
  const guard = new DivergenceGuard();
  for (let i = 0; i < 50; i++) assert.is(guard.check(i < 5 ? 9 : 1 + (i % 3) * 0.1), null);
  assert.is(guard.check(9), null, 'back at the first loss is not divergence');
  assert.match(guard.check(15) ?? '', /more than 10 times the median 1\.\d+ of the last 50 steps/);
});

test('the history survives a resume: a restored guard judges as the original', () => {
  const guard = new DivergenceGuard();
  for (let i = 0; i < 60; i++) guard.check(2);
  const restored = new DivergenceGuard(JSON.parse(JSON.stringify(guard.history())));
  assert.ok(restored.check(25) !== null);
  assert.ok(guard.check(25) !== null);
  assert.is(guard.history().recent.length, DIVERGENCE.window);
});

test.run();
