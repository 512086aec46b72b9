#!/usr/bin/env bash
# Installs what `make test` needs beyond the build: Debian's Chromium and
# chromedriver (tests/it/dashboard.rs drives the dashboard in them, headless),
# and s3s-fs, the S3-compatible server (it checks SigV4 signatures) that
# tests/it/storage.rs starts on a free loopback port per test and stops
# afterwards; and Debian's postgresql, whose initdb and pg_ctl
# scripts/test-postgres.sh runs for a throwaway server (the shared-ledger
# tests; the service it installs is not used) with openssl, which makes the
# test server's TLS certificates. Each is skipped when already there.
set -euo pipefail

"$(dirname "$0")/install-deps.sh" chromium chromium-driver postgresql openssl

S3S_FS_VERSION=0.14.1 # 0.15+ needs a newer rustc than the project's MSRV
export PATH="$HOME/.cargo/bin:$PATH"

if command -v s3s-fs >/dev/null 2>&1; then
  exit 0
fi
echo "install-test-deps: installing s3s-fs $S3S_FS_VERSION into ~/.cargo/bin (about 2 minutes)"
# A debug build: it only serves tests, and builds in half the time.
cargo install "s3s-fs@$S3S_FS_VERSION" --features binary --locked --quiet --debug
