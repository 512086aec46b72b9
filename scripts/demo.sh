#!/usr/bin/env bash
# The demo on the embedded defaults: every shipped template over its fixture
# feed and two fixture clips → validated → uploaded to the local store →
# published to the built-in Graph API sandbox → recorded in the ledger, with
# a contact sheet in out/report.html. A second run publishes nothing new.
set -uo pipefail
bin=${STORYFORGE:-target/release/storyforge}
"$bin" run demo/job.yaml --config demo/storyforge.yaml --today 2026-11-29 --preset veryfast
status=$?
echo
echo "The ledger:"
"$bin" ledger --config demo/storyforge.yaml
exit $status
