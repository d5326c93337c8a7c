#!/usr/bin/env bash
# Runs the GPU bench on a device machine (see pack.sh): installs the carried Vulkan loader, unpacks
# the carried Node.js, points Vulkan at the NVIDIA driver when the loader finds none, then runs
# bench/gpu/bench.ts on the hardware adapter, PyTorch CUDA beside it; results go to $OUT.
# SIMBERT_GPU_BENCH_CHECK=1 (pack.sh --check, on this machine) stops after checking that the
# carried Node.js and Dawn load and that an adapter answers, and installs nothing.
set -euo pipefail
cd "$(dirname "$0")/../.."
check=${SIMBERT_GPU_BENCH_CHECK:-0}
out=${OUT:-/tmp/simbert-gpu-bench}
mkdir -p "$out"

if [ "$check" != 1 ]; then
  for deb in .gl/*.deb; do dpkg -x "$deb" /; done
  ldconfig
  icd=/usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json
  if [ -e "$icd" ] && [ -z "${VK_DRIVER_FILES:-}" ]; then export VK_DRIVER_FILES=$icd; fi
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader >"$out/gpu.txt" 2>&1 || true
fi

node=$(mktemp -d)/node
xz -dc .gpubench/node.xz >"$node"
chmod +x "$node"
# ES modules resolve packages from the node_modules above the importing file: .gpubench/node_modules.
echo "node $("$node" --version)"

if [ "$check" = 1 ]; then
  (cd .gpubench/build && "$node" --input-type=module -e "
    const { create, globals } = await import('webgpu');
    Object.assign(globalThis, globals);
    const adapter = await create([]).requestAdapter();
    await import('./bench/matmul.js');
    await import('./bench/train.js');
    console.log('carried Dawn and the bench modules load; adapter:', adapter ? adapter.info.description || adapter.info.device : 'none');
    process.exit(0);")
  exit 0
fi

SIMBERT_ADAPTER=hardware "$node" .gpubench/build/bench/gpu/bench.js "$out/gpu-results.md" 2>&1 | tee "$out/gpu-bench.log"
