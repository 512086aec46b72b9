#!/usr/bin/env bash
# Installs what building and testing storyforge needs on a fresh Debian or
# Ubuntu machine: only the packages that are missing (apt-get update first),
# through sudo when not root, and a Rust toolchain when there is none.
set -euo pipefail

packages=(
  build-essential pkg-config libclang-dev
  libavcodec-dev libavformat-dev libavutil-dev libavfilter-dev
  libswscale-dev libswresample-dev
  libturbojpeg0-dev
  ca-certificates curl
)
# Extra packages a caller needs (e.g. the benchmark's Python).
if [ "$#" -gt 0 ]; then packages+=("$@"); fi

sudo_cmd=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: not root and no sudo; install: ${packages[*]}" >&2; exit 2; }
  sudo_cmd=(sudo)
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  echo "install-deps: installing ${missing[*]}"
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  "${sudo_cmd[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null 2>&1 && [ ! -x "$HOME/.cargo/bin/cargo" ]; then
  echo "install-deps: no Rust toolchain; installing one with rustup"
  curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal --component clippy,rustfmt
fi
