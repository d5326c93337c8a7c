import type { Gpu } from '../gpu/device.js';
import { attentionVariant } from '../kernels/attention.js';
import { matmulVariant } from '../kernels/matmul.js';

/** The adapter a page's engine runs on, and the kernel versions chosen for it. */
export interface AdapterInfo {
  kind: 'hardware' | 'software';
  /** Vendor / architecture / device / description, as far as the browser tells them. */
  description: string;
  /** The fixed subgroup size kernels are compiled for, or 0 without subgroups. */
  subgroupSize: number;
  /** A compatibility-mode adapter (WebGPU on OpenGL ES or D3D11). */
  compatibility: boolean;
  readableStorageTextures: boolean;
  matmul: string;
  attention: string;
  limits: { maxStorageBufferBindingSize: number; maxComputeInvocationsPerWorkgroup: number; maxStorageBuffersPerShaderStage: number };
}

export function describeAdapter(gpu: Gpu): AdapterInfo {
  const limits = gpu.device.limits;
  return {
    kind: gpu.adapterKind,
    description: gpu.adapterDescription,
    subgroupSize: gpu.capabilities.subgroupSize,
    compatibility: gpu.capabilities.compatibility,
    readableStorageTextures: gpu.capabilities.readableStorageTextures,
    matmul: matmulVariant(gpu),
    attention: attentionVariant(gpu),
    limits: {
      maxStorageBufferBindingSize: limits.maxStorageBufferBindingSize,
      maxComputeInvocationsPerWorkgroup: limits.maxComputeInvocationsPerWorkgroup,
      maxStorageBuffersPerShaderStage: limits.maxStorageBuffersPerShaderStage,
    },
  };
}
