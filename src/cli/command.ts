import type { CommandSpec, ParsedArgs } from './args.js';

/** One CLI command: its declared flags and what it does; returns the process exit code. */
export interface Command {
  spec: CommandSpec;
  run(args: ParsedArgs): Promise<number>;
}
