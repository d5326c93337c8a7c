#!/usr/bin/env node
import { formatHelp, parseArgs, UsageError } from './args.js';
import type { Command } from './command.js';
import { commands } from './commands.js';
import { exitCodeFor } from './stop-signals.js';

function mainHelp(): string {
  const width = Math.max(...commands.map((c) => c.spec.name.length)) + 2;
  return [
    'simbert-webgpu: SimBERT training and evaluation on WebGPU',
    '',
    'usage: node dist/cli <command> [options]',
    '',
    'commands:',
    ...commands.map((c) => `  ${c.spec.name.padEnd(width)}${c.spec.summary}`),
    '',
    "Run 'node dist/cli <command> --help' for a command's options.",
  ].join('\n');
}

/**
 * SIGINT and SIGTERM end a command that has no handler of its own (train and generate have) at
 * once with 130 / 143. Handlers run between synchronous steps, so an output file being written is
 * either finished and renamed into place or never started: nothing half-written is left.
 */
function exitOnSignals(): void {
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      if (process.listenerCount(signal) === 1) process.exit(exitCodeFor(signal));
    });
  }
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    console.log(mainHelp());
    return 0;
  }
  const command: Command | undefined = commands.find((c) => c.spec.name === name);
  if (!command) {
    console.error(`simbert: unknown command '${name}'\n\n${mainHelp()}`);
    return 2;
  }
  try {
    const args = parseArgs(command.spec, rest);
    if (args.help) {
      console.log(formatHelp(command.spec));
      return 0;
    }
    return await command.run(args);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`simbert ${error.command}: ${error.message}\nRun 'node dist/cli ${error.command} --help' for usage.`);
      return 2;
    }
    const message = error instanceof Error ? error.message : String(error);
    console.error(`simbert ${name}: ${message}`);
    if (process.env.SIMBERT_DEBUG && error instanceof Error) console.error(error.stack);
    return 1;
  }
}

exitOnSignals();
// Exit explicitly: a live WebGPU instance keeps Node's event loop running.
process.exit(await main(process.argv.slice(2)));
