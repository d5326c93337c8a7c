import type { Command } from './command.js';
import { inspectCheckpointCommand } from './inspect-checkpoint.js';

/** Every CLI command, in the order `--help` lists them. */
export const commands: Command[] = [inspectCheckpointCommand];
