#!/usr/bin/env bash
# Compiles src/ into dist/ (and, with --tests, src/ test/ bench/ into build/) so that builds and
# test runs sharing one checkout never see each other's half-written or deleted files: each build
# compiles into a fresh folder .builds/ID/, then dist and build become symlinks to it, each switched
# by one rename. A fresh folder also means no compiled file of a deleted source lingers. The two
# previous builds are kept, so a test run that started on one of them still finds its files.
# TSC overrides the compiler command (tests use a stand-in).
set -euo pipefail
cd "$(dirname "$0")/.."
tsc=${TSC:-npx tsc}
id="$(date +%s%N)-$$"
mkdir -p ".builds/$id"

switch_to() { # NAME TARGET: points NAME at TARGET in one rename
  local name=$1 target=$2
  # A real directory (an older layout, or a plain `tsc` run) cannot be renamed over; it goes first.
  if [ -d "$name" ] && [ ! -L "$name" ]; then rm -rf "$name"; fi
  ln -sfn "$target" ".$name.tmp-$$"
  mv -T ".$name.tmp-$$" "$name"
}

$tsc -p tsconfig.json --outDir ".builds/$id/dist"
node scripts/build-browser.mjs ".builds/$id/dist" >&2
if [ "${1:-}" = --tests ]; then
  $tsc -p tsconfig.test.json --outDir ".builds/$id/build"
  switch_to build ".builds/$id/build"
fi
switch_to dist ".builds/$id/dist"
# Newest first; keep this build and the two before it.
ls -1dt .builds/*/ | tail -n +4 | xargs -r rm -rf
