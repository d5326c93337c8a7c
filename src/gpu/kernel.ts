import { ResourceType, WgslReflect, type MemberInfo, type VariableInfo } from 'wgsl_reflect/wgsl_reflect.module.js';

/** A WGSL compute entry point and its override constants: what a pipeline is compiled from. */
export interface KernelSource {
  /** Short name used in error messages and labels, e.g. 'matmul'. */
  name: string;
  wgsl: string;
  entryPoint?: string;
  constants?: Record<string, number>;
}

export type ScalarType = 'u32' | 'i32' | 'f32';

export interface UniformField {
  name: string;
  type: ScalarType;
  offset: number;
}

export type BindingKind = 'read-only-storage' | 'storage' | 'uniform' | 'read-only-texture' | 'write-only-texture';

/** The one storage-texture format kernels use: four f32 per texel. */
export const TEXTURE_FORMAT = 'rgba32float';

export interface BindingInfo {
  name: string;
  binding: number;
  kind: BindingKind;
  /** Members of the uniform struct, for packing by name. */
  uniformFields?: UniformField[];
  uniformSize?: number;
}

export interface ReflectedKernel {
  entryPoint: string;
  bindings: BindingInfo[];
  workgroupSize: [number, number, number];
}

function uniformFields(variable: VariableInfo, kernelName: string): UniformField[] {
  const members: MemberInfo[] | null = variable.members;
  if (!members) throw new Error(`kernel ${kernelName}: uniform '${variable.name}' must be a struct of scalars`);
  return members.map((member) => {
    const type = member.type.name;
    if (type !== 'u32' && type !== 'i32' && type !== 'f32') {
      throw new Error(`kernel ${kernelName}: uniform member '${variable.name}.${member.name}' has type ${type}; only u32, i32 and f32 are supported`);
    }
    return { name: member.name, type, offset: member.offset };
  });
}

/** Reads the bindings of one compute entry point from its WGSL (group 0 only). */
export function reflectKernel(source: KernelSource): ReflectedKernel {
  const reflection = new WgslReflect(source.wgsl);
  const candidates = reflection.entry.compute;
  const entry = source.entryPoint ? candidates.find((f) => f.name === source.entryPoint) : candidates[0];
  if (!entry) {
    throw new Error(`kernel ${source.name}: no compute entry point${source.entryPoint ? ` named '${source.entryPoint}'` : ''}`);
  }
  const bindings: BindingInfo[] = entry.resources.map((variable) => {
    if (variable.group !== 0) throw new Error(`kernel ${source.name}: binding '${variable.name}' is in group ${variable.group}; only group 0 is used`);
    if (variable.resourceType === ResourceType.Uniform) {
      return {
        name: variable.name,
        binding: variable.binding,
        kind: 'uniform',
        uniformFields: uniformFields(variable, source.name),
        uniformSize: Math.ceil(variable.size / 16) * 16,
      };
    }
    if (variable.resourceType === ResourceType.StorageTexture) {
      const type = variable.type as { name: string; format?: { name: string } | null };
      if (type.name !== 'texture_storage_2d' || type.format?.name !== TEXTURE_FORMAT || (variable.access !== 'read' && variable.access !== 'write')) {
        throw new Error(`kernel ${source.name}: texture '${variable.name}' must be texture_storage_2d<${TEXTURE_FORMAT}, read> or <${TEXTURE_FORMAT}, write>`);
      }
      return { name: variable.name, binding: variable.binding, kind: variable.access === 'read' ? 'read-only-texture' : 'write-only-texture' };
    }
    if (variable.resourceType !== ResourceType.Storage) {
      throw new Error(`kernel ${source.name}: binding '${variable.name}' is neither a buffer nor a storage texture`);
    }
    return { name: variable.name, binding: variable.binding, kind: variable.access === 'read_write' ? 'storage' : 'read-only-storage' };
  });
  bindings.sort((a, b) => a.binding - b.binding);
  const workgroupSize = (entry.workgroupSize ?? [1, 1, 1]).map((n) => Number(n) || 1) as [number, number, number];
  return { entryPoint: entry.name, bindings, workgroupSize };
}

/** The bind group layout entry for a reflected binding. */
export function layoutEntry(binding: BindingInfo): GPUBindGroupLayoutEntry {
  const entry = { binding: binding.binding, visibility: GPUShaderStage.COMPUTE };
  if (binding.kind === 'read-only-texture' || binding.kind === 'write-only-texture') {
    const access = binding.kind === 'read-only-texture' ? 'read-only' : 'write-only';
    return { ...entry, storageTexture: { access, format: TEXTURE_FORMAT, viewDimension: '2d' } };
  }
  // Uniforms take a dynamic offset, so that a bind group outlives the values it was made with.
  return { ...entry, buffer: { type: binding.kind, hasDynamicOffset: binding.kind === 'uniform' } };
}
