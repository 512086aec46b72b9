#!/usr/bin/env bash
# Side-by-side video benchmark against the ffmpeg command-line tool (see
# benches/video_compare.py and docs/benchmarks.md, "Video").
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh ffmpeg python3
cargo build --release --locked
python3 benches/video_compare.py "$@"
