#!/usr/bin/env bash
# Compiles src/ into dist/ (and, with --tests, src/ test/ bench/ into build/) so that builds and
# test runs sharing one checkout never see each other's half-written or deleted files: each build
# compiles into fresh folders .dist-ID/ and .build-ID/ beside them (the same depth, so paths that
# compiled code computes relative to itself still reach the project's files), then dist and build
# become symlinks to them, each switched by one rename. Fresh folders also mean no compiled file of
# a deleted source lingers. The two previous builds are kept, so a test run that started on one of
# them still finds its files. TSC overrides the compiler command (tests use a stand-in).
set -euo pipefail
cd "$(dirname "$0")/.."
tsc=${TSC:-npx tsc}
id="$(date +%s%N)-$$"

switch_to() { # NAME TARGET: points NAME at TARGET in one rename
  local name=$1 target=$2
  # A real directory (an older layout, or a plain `tsc` run) cannot be renamed over; it goes first.
  if [ -d "$name" ] && [ ! -L "$name" ]; then rm -rf "$name"; fi
  ln -sfn "$target" ".$name.tmp-$$"
  mv -T ".$name.tmp-$$" "$name"
}

# Newest first; keeps the build just made and the two before it.
prune() { ls -1dt ".$1"-*/ 2>/dev/null | tail -n +4 | xargs -r rm -rf; }

$tsc -p tsconfig.json --outDir ".dist-$id"
node scripts/build-browser.mjs ".dist-$id" >&2
if [ "${1:-}" = --tests ]; then
  $tsc -p tsconfig.test.json --outDir ".build-$id"
  switch_to build ".build-$id"
  prune build
fi
switch_to dist ".dist-$id"
prune dist
