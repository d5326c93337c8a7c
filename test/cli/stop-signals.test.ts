import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { StopSignals } from '../../src/cli/stop-signals.js';

test('the first signal asks to stop, a second exits at once with 128 + its number', () => {
  const events: string[] = [];
  const signals = new StopSignals(
    (signal) => events.push(`first ${signal}`),
    (signal) => events.push(`second ${signal}`),
    (code) => events.push(`exit ${code}`),
  );
  try {
    assert.is(signals.requested, null);
    process.emit('SIGTERM', 'SIGTERM');
    assert.is(signals.requested, 'SIGTERM');
    assert.is(signals.exitCode, 143);
    process.emit('SIGINT', 'SIGINT');
    assert.equal(events, ['first SIGTERM', 'second SIGINT', 'exit 130']);
  } finally {
    signals.dispose();
  }
  assert.is(process.listenerCount('SIGINT'), 0, 'dispose removes the handlers');
});

test.run();
