import * as assert from 'uvu/assert';

/** Worst |a - b| / (atol + rtol |b|) style comparison; throws naming the worst index. */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tolerance = { rtol: 1e-5, atol: 1e-5 }): number {
  assert.is(actual.length, expected.length, `${what}: length`);
  let worst = 0;
  let worstIndex = -1;
  for (let i = 0; i < actual.length; i++) {
    const difference = Math.abs(actual[i] - expected[i]);
    const error = difference === 0 ? 0 : difference / (tolerance.atol + tolerance.rtol * Math.abs(expected[i]));
    if (!(error <= worst)) {
      worst = error;
      worstIndex = i;
    }
  }
  if (!(worst <= 1)) {
    assert.unreachable(`${what}: element ${worstIndex} is ${actual[worstIndex]}, expected ${expected[worstIndex]} (error ${worst.toFixed(2)}x the tolerance)`);
  }
  return worst;
}

/** Largest relative error max|a-b| / max|b|, for reporting. */
export function maxRelativeError(actual: ArrayLike<number>, expected: ArrayLike<number>): number {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < actual.length; i++) {
    diff = Math.max(diff, Math.abs(actual[i] - expected[i]));
    scale = Math.max(scale, Math.abs(expected[i]));
  }
  return diff / Math.max(scale, 1e-30);
}
