#!/usr/bin/env bash
# Idempotent setup: npm packages, the TypeScript build, and a WebGPU adapter.
# When Dawn finds no adapter, installs Mesa's lavapipe (software Vulkan) from Debian's
# bookworm-backports suite (Debian 12's own Mesa 22 is rejected by Dawn). As root it does it;
# otherwise it prints the exact commands to run.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[setup] %s\n' "$*" >&2; }

if [ ! -d node_modules ] || [ package-lock.json -nt node_modules/.package-lock.json ]; then
  log "installing npm packages"
  npm ci --no-audit --no-fund --loglevel=error
fi
log "building dist/ and build/ from src/, test/ and bench/"
# Into a fresh folder switched in by rename: concurrent runs never delete each other's build (scripts/build.sh).
bash scripts/build.sh --tests

# The browser tests (test/browser) drive Debian's Chromium; without it they skip and say so.
if [ ! -x /usr/lib/chromium/chromium ]; then
  if [ "$(id -u)" = 0 ]; then
    log "installing Debian's chromium for the browser tests"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium) >&2 || log "could not install chromium; the browser tests will skip"
  else
    log "chromium is not installed, so the browser tests will skip; as root: apt-get install -y chromium"
  fi
fi

adapter_found() { node scripts/probe-adapter.mjs >/dev/null 2>&1; }

if adapter_found; then
  log "WebGPU adapter: $(node scripts/probe-adapter.mjs)"
  exit 0
fi

# The backports suite is added with the URIs of the machine's existing Debian source.
backports_source=/etc/apt/sources.list.d/simbert-bookworm-backports.sources
debian_uris() {
  local f
  for f in /etc/apt/sources.list.d/*.sources; do
    [ -f "$f" ] || continue
    if grep -qE '^Suites:.*\bbookworm\b' "$f"; then
      awk '/^URIs:/ { sub(/^URIs:[ \t]*/, ""); print; exit }' "$f"
      return
    fi
  done
  if [ -f /etc/apt/sources.list ]; then
    awk '$1 == "deb" && $3 == "bookworm" { print $2; exit }' /etc/apt/sources.list
  fi
}

uris=$(debian_uris)
if [ -z "$uris" ]; then
  log "no Debian bookworm apt source found in /etc/apt; cannot add bookworm-backports"
  exit 1
fi
commands=(
  "printf 'Types: deb\nURIs: %s\nSuites: bookworm-backports\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n' '$uris' > $backports_source"
  "apt-get update -qq"
  "DEBIAN_FRONTEND=noninteractive apt-get install -y -qq -t bookworm-backports mesa-vulkan-drivers libvulkan1"
)

if [ "$(id -u)" != 0 ]; then
  log "no WebGPU adapter found. Run as root:"
  for c in "${commands[@]}"; do printf '  %s\n' "$c" >&2; done
  exit 1
fi

log "no WebGPU adapter found; installing Mesa lavapipe from bookworm-backports"
for c in "${commands[@]}"; do
  log "+ $c"
  bash -c "$c" >&2
done

if ! adapter_found; then
  log "still no WebGPU adapter after installing lavapipe:"
  node scripts/probe-adapter.mjs >&2 || true
  exit 1
fi
log "WebGPU adapter: $(node scripts/probe-adapter.mjs)"
