#!/usr/bin/env bash
# Packs what the GPU bench carries to a device machine (the `device` tool, see its README): the
# device image has no Node.js and no Vulkan loader, so both travel, with the bench compiled into
# .gpubench/build (a real folder: build/ may be a link, which travels as a link only), the PyTorch
# baseline script and the npm packages the bench imports (Dawn for linux-x64 only). Then call the
# tool's `run` with   command: bash bench/gpu/run-on-device.sh      carry: [".gpubench", ".gl"]
#
#   bash bench/gpu/pack.sh            pack into .gpubench/ and .gl/ (both git-ignored here)
#   bash bench/gpu/pack.sh --check    pack, then check here that the carried Node and Dawn load
set -euo pipefail
cd "$(dirname "$0")/../.."
LIMIT=$((64 * 1024 * 1024)) # the tool's limit on the working tree that travels

exclude="$(git rev-parse --git-path info/exclude)"
mkdir -p "$(dirname "$exclude")"
for path in /.gpubench/ /.gl/; do grep -qxF "$path" "$exclude" 2>/dev/null || echo "$path" >>"$exclude"; done

rm -rf .gpubench
mkdir -p .gpubench/node_modules/webgpu/dist .gpubench/bench
npx tsc -p tsconfig.test.json --outDir .gpubench/build
cp bench/torch-baseline.py .gpubench/bench/
xz -T0 -3 -c "$(command -v node)" >.gpubench/node.xz
for package in wgsl_reflect benchmark lodash platform; do cp -r "node_modules/$package" .gpubench/node_modules/; done
cp node_modules/webgpu/package.json node_modules/webgpu/index.js .gpubench/node_modules/webgpu/
cp -r node_modules/webgpu/dist/linux-x64 .gpubench/node_modules/webgpu/dist/

# The loaders, as the device README lists them: the Vulkan loader, and glvnd's libraries, which
# NVIDIA's Vulkan driver (libGLX_nvidia.so.0) needs to load ("Found no drivers" without them).
LOADERS="libvulkan1 libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2"
missing=""
for package in $LOADERS; do ls ".gl/${package}_"*.deb >/dev/null 2>&1 || missing="$missing $package"; done
if [ -n "$missing" ]; then
  mkdir -p .gl /tmp/amd64/partial
  o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64'
  # shellcheck disable=SC2086
  apt-get $o update -qq && (cd .gl && apt-get $o download $missing)
fi

tracked=$(git ls-files -z | xargs -0 stat -c %s 2>/dev/null | awk '{ s += $1 } END { print s + 0 }')
carried=$(du -sb .gpubench .gl | awk '{ s += $1 } END { print s }')
echo "carried: $(du -sh .gpubench .gl | tr '\n' ' ')"
echo "travels in all: $(((tracked + carried) / 1024 / 1024)) MiB of the $((LIMIT / 1024 / 1024)) MiB limit"
if [ $((tracked + carried)) -gt $LIMIT ]; then echo "too large to travel" >&2; exit 1; fi

if [ "${1:-}" = --check ]; then
  SIMBERT_GPU_BENCH_CHECK=1 bash bench/gpu/run-on-device.sh
fi
