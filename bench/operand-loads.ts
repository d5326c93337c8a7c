/**
 * What one operand load costs on the adapter, by the way it reaches the lanes: the measurement
 * behind the texture matmul's design (README, "Performance on the software adapter"). Every
 * kernel does the same FMAs, `rows` vec4 accumulators per invocation fed by one vec4 load per
 * loop pass, and differs only in where that vec4 comes from:
 *
 *   texture          a storage texture, a different texel in every lane (the matmul's B)
 *   buffer           a vec4f storage buffer, a different element in every lane
 *   workgroup        workgroup memory, a different element in every lane
 *   buffer-uniform   a vec4f storage buffer at an index the same in every lane
 *   uniform-buffer   a uniform buffer at an index the same in every lane (the loop counter)
 *   none             no load: the vec4 is computed from the loop counter (the loop's own rate)
 *
 *   node build/bench/operand-loads.js [rows]
 *
 * Raw WebGPU, not the engine's kernel reflection (which takes only structs of scalars as
 * uniforms). Timed as dispatch + wait, median of 5 after one untimed dispatch that compiles. The
 * `none` row is the same loop without a load; a source's cost per load is its time per
 * invocation and pass less that row's. (At 32 rows the accumulators spill, as in the matmul.)
 */
import { initNodeEngine } from '../src/node/gpu.js';
import { median } from './stats.js';

const WORKGROUP = 64;
const WORKGROUPS = 512;
const PASSES = 1024;
/** vec4s in every source (a power of two: indices are masked; 32 KiB, the workgroup memory limit) */
const ELEMENTS = 2048;
/** texels per row of the texture source (a power of two: the load splits the index by mask and shift) */
const TEXTURE_WIDTH = 64;

type Source = 'texture' | 'buffer' | 'workgroup' | 'buffer-uniform' | 'uniform-buffer' | 'none';
const SOURCES: Source[] = ['none', 'texture', 'buffer', 'workgroup', 'buffer-uniform', 'uniform-buffer'];

function declaration(source: Source): string {
  switch (source) {
    case 'texture': return '@group(0) @binding(2) var src: texture_storage_2d<rgba32float, read>;';
    case 'buffer': case 'buffer-uniform': return '@group(0) @binding(2) var<storage, read> src: array<vec4f>;';
    case 'uniform-buffer': return `@group(0) @binding(2) var<uniform> src: array<vec4f, ${ELEMENTS}>;`;
    case 'workgroup': return `var<workgroup> src: array<vec4f, ${ELEMENTS}>;`;
    case 'none': return '';
  }
}

function load(source: Source): string {
  const varying = `((p * ${WORKGROUP}u + lid) & ${ELEMENTS - 1}u)`;
  switch (source) {
    case 'texture': return `textureLoad(src, vec2u(${varying} & ${TEXTURE_WIDTH - 1}u, ${varying} >> ${Math.log2(TEXTURE_WIDTH)}u))`;
    case 'buffer': case 'workgroup': return `src[${varying}]`;
    case 'buffer-uniform': case 'uniform-buffer': return `src[p & ${ELEMENTS - 1}u]`;
    case 'none': return 'vec4f(f32(p), 1.0, 2.0, 3.0)';
  }
}

function wgsl(source: Source, rows: number): string {
  const each = (line: (r: number) => string) => Array.from({ length: rows }, (_, r) => line(r)).join('\n');
  const fill = source === 'workgroup'
    ? `  for (var i = lid; i < ${ELEMENTS}u; i += ${WORKGROUP}u) { src[i] = vec4f(f32(i), 1.0, 2.0, 3.0); }\n  workgroupBarrier();`
    : '';
  return /* wgsl */ `
struct Params { passes: u32, seed: f32 }
@group(0) @binding(0) var<storage, read_write> out: array<vec4f>;
@group(0) @binding(1) var<uniform> params: Params;
${declaration(source)}

@compute @workgroup_size(${WORKGROUP})
fn main(@builtin(global_invocation_id) gid: vec3u, @builtin(local_invocation_index) lid: u32) {
${fill}
${each((r) => `  let a${r} = vec4f(params.seed + f32(gid.x + ${r}u));\n  var acc${r} = vec4f(0.0);`)}
  for (var p = 0u; p < params.passes; p++) {
    let b = ${load(source)};
${each((r) => `    acc${r} = fma(a${r}, b, acc${r});`)}
  }
  out[gid.x] = ${Array.from({ length: rows }, (_, r) => `acc${r}`).join(' + ')};
}`;
}

const rows = Number(process.argv[2] ?? 8);
if (!Number.isInteger(rows) || rows < 1 || rows > 64) {
  console.error(`usage: node build/bench/operand-loads.js [rows]: rows must be an integer in [1, 64], got ${process.argv[2]}`);
  process.exit(2);
}
const gpu = await initNodeEngine();
const device = gpu.device;
console.log(`adapter: ${gpu.adapterKind} (${gpu.adapterDescription}), subgroup ${gpu.capabilities.subgroupSize || 'varying'} lanes, LP_NATIVE_VECTOR_WIDTH=${process.env.LP_NATIVE_VECTOR_WIDTH ?? '(lavapipe default)'}`);
console.log(`${WORKGROUPS} x ${WORKGROUP} invocations, ${PASSES} passes, one vec4 load and ${rows} vec4 FMAs per pass`);

const invocations = WORKGROUP * WORKGROUPS;
const out = device.createBuffer({ size: invocations * 16, usage: GPUBufferUsage.STORAGE });
const params = device.createBuffer({ size: 16, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
const paramBytes = new DataView(new ArrayBuffer(16));
paramBytes.setUint32(0, PASSES, true);
paramBytes.setFloat32(4, 0.5, true);
device.queue.writeBuffer(params, 0, paramBytes.buffer);
const values = new Float32Array(ELEMENTS * 4).map((_, i) => (i % 7) * 0.125);
const storage = device.createBuffer({ size: values.byteLength, usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST });
const uniform = device.createBuffer({ size: values.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST });
device.queue.writeBuffer(storage, 0, values);
device.queue.writeBuffer(uniform, 0, values);
const textureSize = [TEXTURE_WIDTH, ELEMENTS / TEXTURE_WIDTH];
const texture = device.createTexture({ size: textureSize, format: 'rgba32float', usage: GPUTextureUsage.STORAGE_BINDING | GPUTextureUsage.COPY_DST });
device.queue.writeTexture({ texture }, values, { bytesPerRow: TEXTURE_WIDTH * 16 }, textureSize);

function sourceEntry(source: Source): GPUBindGroupEntry[] {
  switch (source) {
    case 'texture': return [{ binding: 2, resource: texture.createView() }];
    case 'buffer': case 'buffer-uniform': return [{ binding: 2, resource: { buffer: storage } }];
    case 'uniform-buffer': return [{ binding: 2, resource: { buffer: uniform } }];
    default: return [];
  }
}

async function time(source: Source): Promise<number> {
  device.pushErrorScope('validation');
  const pipeline = device.createComputePipeline({ layout: 'auto', compute: { module: device.createShaderModule({ code: wgsl(source, rows) }), entryPoint: 'main' } });
  const group = device.createBindGroup({
    layout: pipeline.getBindGroupLayout(0),
    entries: [{ binding: 0, resource: { buffer: out } }, { binding: 1, resource: { buffer: params } }, ...sourceEntry(source)],
  });
  const run = async () => {
    const encoder = device.createCommandEncoder();
    const pass = encoder.beginComputePass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, group);
    pass.dispatchWorkgroups(WORKGROUPS);
    pass.end();
    const started = performance.now();
    device.queue.submit([encoder.finish()]);
    await device.queue.onSubmittedWorkDone();
    return performance.now() - started;
  };
  await run();
  const error = await device.popErrorScope();
  if (error) throw new Error(`${source}: ${error.message}`);
  const samples: number[] = [];
  for (let i = 0; i < 5; i++) samples.push(await run());
  return median(samples);
}

const flops = 2 * 4 * rows * PASSES * invocations;
for (const source of SOURCES) {
  const ms = await time(source);
  const nsPerPass = (ms * 1e6) / (PASSES * invocations);
  console.log(`${source.padEnd(15)} ${ms.toFixed(1).padStart(8)} ms  ${(flops / ms / 1e6).toFixed(1).padStart(6)} GFLOP/s  ${nsPerPass.toFixed(2).padStart(6)} ns of wall time per invocation and pass`);
}
gpu.destroy();
