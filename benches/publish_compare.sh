#!/usr/bin/env bash
# Publishing wall time against the Graph API's floor (issue 25): builds
# storyforge in release, runs benches/publish_compare.py (starts its own
# `storyforge sandbox`). See docs/scale.md. Arguments go to the script
# (--case images|videos|agency, --bin PATH, --scale F, --ledger-dir DIR, --keep).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/install-deps.sh python3
cargo build --release --locked
python3 benches/publish_compare.py "$@"
