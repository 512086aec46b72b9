#!/usr/bin/env bash
# Side-by-side benchmark: builds storyforge in release, puts Pillow in a
# venv (benches/.venv), runs benches/compare.py. See docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
# libraqm0 + libfribidi0: Pillow shapes text with Raqm (HarfBuzz + FriBiDi), like storyforge.
./scripts/install-deps.sh python3 python3-venv util-linux libraqm0 libfribidi0
cargo build --release --locked
if [ ! -x benches/.venv/bin/python ]; then
  python3 -m venv benches/.venv
  benches/.venv/bin/pip install -q pillow
fi
benches/.venv/bin/python benches/compare.py
