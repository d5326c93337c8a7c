import { CheckpointError } from '../model/checkpoint/errors.js';
import type { CheckpointReader, CheckpointTensorInfo } from '../model/checkpoint/bundle-reader.js';
import { tfDtypeName } from '../model/checkpoint/bundle-proto.js';
import { validateCheckpointAgainstConfig, type CheckpointValidation } from '../model/config.js';
import { openCheckpoint } from '../node/checkpoint-files.js';
import { loadBertConfig } from '../node/config-file.js';
import type { Command } from './command.js';

function formatShape(shape: readonly number[]): string {
  return `[${shape.join(', ')}]`;
}

function formatBytes(bytes: number): string {
  const units = ['KiB', 'MiB', 'GiB'];
  if (bytes < 1024) return `${bytes} bytes`;
  let scaled = bytes;
  let unit = -1;
  while (scaled >= 1024 && unit < units.length - 1) {
    scaled /= 1024;
    unit++;
  }
  return `${bytes} bytes (${scaled.toFixed(1)} ${units[unit]})`;
}

/** Verifies every tensor; all failures become one error naming the first and counting the rest. */
function verifyAll(reader: CheckpointReader): void {
  const failures: { name: string; message: string }[] = [];
  for (const tensor of reader.tensors) {
    if (tensor.partitioned) continue;
    try {
      reader.verify(tensor.name);
    } catch (error) {
      if (!(error instanceof CheckpointError)) throw error;
      failures.push({ name: tensor.name, message: error.message });
    }
  }
  if (failures.length === 0) return;
  const others = failures.slice(1).map((failure) => failure.name);
  const more = others.length === 0 ? '' : ` (${others.length} more tensor${others.length === 1 ? '' : 's'} also fail: ${others.slice(0, 5).join(', ')}${others.length > 5 ? ', ...' : ''})`;
  throw new CheckpointError(`${failures[0].message}${more}`);
}

function table(tensors: readonly CheckpointTensorInfo[], crcColumn: (tensor: CheckpointTensorInfo) => string): string[] {
  const rows = tensors.map((tensor) => [tensor.name, tensor.dtype, formatShape(tensor.shape), String(tensor.byteSize), crcColumn(tensor)]);
  const header = ['name', 'dtype', 'shape', 'bytes', 'crc32c'];
  const widths = header.map((title, column) => Math.max(title.length, ...rows.map((row) => row[column].length)));
  const line = (cells: string[]): string =>
    cells.map((cell, column) => (column === 3 ? cell.padStart(widths[column]) : cell.padEnd(widths[column]))).join('  ').trimEnd();
  return [line(header), ...rows.map(line)];
}

export const inspectCheckpointCommand: Command = {
  spec: {
    name: 'inspect-checkpoint',
    summary: 'list the tensors of a TensorFlow checkpoint and verify their checksums',
    usage: 'node dist/cli inspect-checkpoint PREFIX [--json] [--config bert_config.json]',
    positionals: ['PREFIX'],
    details:
      'PREFIX is the checkpoint prefix (dir/bert_model.ckpt) or its .index file. Every tensor is listed with\n' +
      'its dtype, shape and size; when the data file is present every tensor\'s CRC32C is verified.\n' +
      'A corrupt or truncated checkpoint exits with status 1.',
    flags: [
      { name: 'json', kind: 'boolean', help: 'print one JSON object instead of a table' },
      { name: 'config', kind: 'string', placeholder: 'FILE', help: 'also check the tensors against this bert_config.json' },
    ],
  },
  async run(args) {
    const reader = openCheckpoint(args.positionals[0]);
    try {
      const shardsPresent = reader.dataFiles.length - reader.missingDataFiles.length;
      if (shardsPresent > 0 && !reader.hasData) {
        throw new CheckpointError(
          `${reader.missingDataFiles[0]}: data shard is missing (${shardsPresent} of ${reader.dataFiles.length} shards present)`,
        );
      }
      if (reader.hasData) verifyAll(reader);
      const crcVerified = (tensor: CheckpointTensorInfo): boolean => reader.hasData && !tensor.partitioned;
      const configPath = args.flags.config as string | undefined;
      let validation: CheckpointValidation | null = null;
      if (configPath !== undefined) {
        validation = validateCheckpointAgainstConfig(reader, loadBertConfig(configPath), { allowMissing: true, throwOnProblems: false });
      }
      const totalBytes = reader.tensors.reduce((sum, tensor) => sum + tensor.byteSize, 0);
      const verifiedCount = reader.tensors.filter(crcVerified).length;

      if (args.flags.json) {
        console.log(JSON.stringify({
          prefix: reader.prefix,
          indexFile: reader.indexPath,
          dataPresent: reader.hasData,
          dataFiles: reader.dataFiles,
          tensorCount: reader.tensors.length,
          totalBytes,
          crcsVerified: verifiedCount,
          tensors: reader.tensors.map((tensor) => ({
            name: tensor.name, dtype: tensor.dtype, tfDtype: tfDtypeName(tensor.tfDtype), shape: tensor.shape,
            byteSize: tensor.byteSize, crcVerified: crcVerified(tensor),
          })),
          ...(validation ? { config: { path: configPath, ...validation } } : {}),
        }, null, 2));
      } else {
        const lines = table(reader.tensors, (tensor) => (tensor.partitioned ? 'partitioned' : crcVerified(tensor) ? 'ok' : '-'));
        lines.push('');
        const count = `${reader.tensors.length} tensor${reader.tensors.length === 1 ? '' : 's'}, ${formatBytes(totalBytes)}`;
        if (reader.hasData) {
          const unverified = reader.tensors.length - verifiedCount;
          lines.push(`${count}; all ${verifiedCount} CRCs verified${unverified ? ` (${unverified} partitioned, not checked)` : ''}`);
        } else {
          lines.push(`${count}; data file ${reader.missingDataFiles.join(', ')} is absent, so CRCs were not verified`);
        }
        if (validation && configPath !== undefined) {
          if (validation.problems.length === 0) lines.push(`matches ${configPath}`);
          for (const problem of validation.problems) lines.push(`problem: ${problem}`);
          for (const warning of validation.warnings) lines.push(`warning: ${warning}`);
          if (validation.unused.length) lines.push(`unused by the model: ${validation.unused.join(', ')}`);
        }
        console.log(lines.join('\n'));
      }
      if (validation && validation.problems.length > 0) {
        console.error(`simbert inspect-checkpoint: ${reader.prefix} does not match ${configPath} (${validation.problems.length} problems)`);
        return 1;
      }
      return 0;
    } finally {
      reader.close();
    }
  },
};
