import type { Command } from './command.js';
import { inspectCheckpointCommand } from './inspect-checkpoint.js';
import { tokenizeCommand } from './tokenize.js';
import { trainCommand } from './train.js';

/** Every CLI command, in the order `--help` lists them. */
export const commands: Command[] = [trainCommand, tokenizeCommand, inspectCheckpointCommand];
