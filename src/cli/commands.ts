import type { Command } from './command.js';
import { encodeCommand } from './encode.js';
import { evalCommand } from './eval.js';
import { exportCommand } from './export.js';
import { generateCommand } from './generate.js';
import { inspectCheckpointCommand } from './inspect-checkpoint.js';
import { similarCommand } from './similar.js';
import { tokenizeCommand } from './tokenize.js';
import { trainCommand } from './train.js';

/** Every CLI command, in the order `--help` lists them. */
export const commands: Command[] = [trainCommand, evalCommand, encodeCommand, similarCommand, generateCommand, tokenizeCommand, inspectCheckpointCommand, exportCommand];
