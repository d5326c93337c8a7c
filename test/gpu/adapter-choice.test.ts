import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { chooseAttentionVariant } from '../../src/kernels/attention.js';
import { chooseMatmulVariant } from '../../src/kernels/matmul.js';

// The adapters the engine meets, as they report themselves (measured: shared/BROWSER.md and this
// machine's Dawn): the kernel versions follow from these reports alone.
const ADAPTERS = {
  'SwiftShader in Chromium (core, subgroups of 4)': { kind: 'software', subgroupSize: 4, readableStorageTextures: true, maxInvocations: 256 },
  'lavapipe in Dawn (core, subgroups of 8)': { kind: 'software', subgroupSize: 8, readableStorageTextures: true, maxInvocations: 1024 },
  'ANGLE on lavapipe (compatibility, no subgroups)': { kind: 'hardware', subgroupSize: 0, readableStorageTextures: true, maxInvocations: 1024 },
  'lavapipe in Firefox (no subgroups)': { kind: 'software', subgroupSize: 0, readableStorageTextures: false, maxInvocations: 256 },
  'NVIDIA (subgroups of 32)': { kind: 'hardware', subgroupSize: 32, readableStorageTextures: true, maxInvocations: 1024 },
  'software, subgroups of 64, 256 invocations': { kind: 'software', subgroupSize: 64, readableStorageTextures: true, maxInvocations: 256 },
  'small compatibility adapter (128 invocations)': { kind: 'hardware', subgroupSize: 0, readableStorageTextures: false, maxInvocations: 128 },
} as const;

test('matmul and attention versions follow what each adapter reports', () => {
  const chosen = Object.fromEntries(Object.entries(ADAPTERS).map(([name, report]) => [name, [chooseMatmulVariant(report), chooseAttentionVariant(report.subgroupSize)]]));
  assert.equal(chosen, {
    'SwiftShader in Chromium (core, subgroups of 4)': ['texture', 'subgroup'],
    'lavapipe in Dawn (core, subgroups of 8)': ['texture', 'subgroup'],
    'ANGLE on lavapipe (compatibility, no subgroups)': ['tiled', 'rows'],
    'lavapipe in Firefox (no subgroups)': ['register', 'rows'],
    'NVIDIA (subgroups of 32)': ['tiled', 'subgroup'],
    // 64 lanes x 8 subgroups would need 512 invocations per workgroup.
    'software, subgroups of 64, 256 invocations': ['register', 'subgroup'],
    'small compatibility adapter (128 invocations)': ['register', 'rows'],
  });
});

test('without readable storage textures a software adapter with subgroups takes the subgroup version', () => {
  assert.is(chooseMatmulVariant({ kind: 'software', subgroupSize: 4, readableStorageTextures: false, maxInvocations: 256 }), 'subgroup');
});

test('a subgroup size that does not divide the attention workgroup falls back to rows', () => {
  assert.is(chooseAttentionVariant(128), 'rows');
  assert.is(chooseAttentionVariant(16), 'subgroup');
});

test.run();
