import { initEngine } from '../autograd/engine.js';
import { adapterPreferenceFromEnv } from '../gpu/adapter.js';
import { formatBytes } from '../gpu/format.js';
import type { Command } from './command.js';

/**
 * The training command. The SimBERT trainer lands with the CLI training issue (#4); until then
 * this opens the GPU the trainer will use and reports it, so the setup can be checked end to end.
 */
export const trainCommand: Command = {
  spec: {
    name: 'train',
    summary: 'train a SimBERT model (for now: check the WebGPU adapter the trainer will use)',
    usage: 'node dist/cli train [--memory-limit BYTES]',
    flags: [{ name: 'memory-limit', kind: 'bytes', help: 'hard cap on GPU memory held by the buffer pool', default: '4GiB', placeholder: 'SIZE' }],
    details: 'The training loop, its demo data and checkpoints arrive with the training issue; see README.md.',
  },
  async run(args) {
    const limit = typeof args.flags['memory-limit'] === 'number' ? args.flags['memory-limit'] : 4 * 1024 ** 3;
    const gpu = await initEngine({ adapter: adapterPreferenceFromEnv(), memoryLimit: limit });
    console.log(`adapter: ${gpu.adapterKind} (${gpu.adapterDescription}), memory limit ${formatBytes(limit)}`);
    console.log('The training demo is not part of this build yet: it arrives with the training issue (#4).');
    gpu.destroy();
    return 0;
  },
};
