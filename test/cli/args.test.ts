import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { parseArgs, UsageError, type CommandSpec } from '../../src/cli/args.js';

const spec: CommandSpec = {
  name: 'demo',
  summary: 'a command for tests',
  usage: 'demo [options]',
  flags: [
    { name: 'out', kind: 'string', help: 'output', placeholder: 'DIR' },
    { name: 'overwrite', kind: 'boolean', help: 'replace' },
    { name: 'epochs', kind: 'integer', help: 'epochs', default: 3 },
    { name: 'memory-limit', kind: 'bytes', help: 'cap', default: '4GiB' },
  ],
};

function usageError(argv: string[], pattern: RegExp): void {
  try {
    parseArgs(spec, argv);
  } catch (error) {
    assert.instance(error, UsageError, `${argv.join(' ')}: a usage error (exit 2)`);
    assert.match((error as Error).message, pattern);
    return;
  }
  assert.unreachable(`${argv.join(' ')} was accepted`);
}

test('a flag missing its value does not swallow the next flag', () => {
  usageError(['--out', '--overwrite'], /--out needs a value \(DIR\) but is followed by --overwrite/);
  assert.is(parseArgs(spec, ['--out=--odd-name']).flags.out, '--odd-name', 'the = form takes any value');
});

test('--memory-limit 0 is a usage error like every other bad flag', () => {
  usageError(['--memory-limit', '0'], /--memory-limit must be at least 1 byte/);
  usageError(['--memory-limit', '0GiB'], /--memory-limit must be at least 1 byte/);
  assert.is(parseArgs(spec, ['--memory-limit', '1KiB']).flags['memory-limit'], 1024);
});

test('given flags are told apart from defaults', () => {
  const parsed = parseArgs(spec, ['--out', 'x']);
  assert.is(parsed.flags.epochs, 3);
  assert.equal([...parsed.given], ['out']);
  assert.equal([...parseArgs(spec, ['--epochs', '3']).given], ['epochs']);
});

test.run();
