# The two commands of the README. Both install what they need first.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)
CARGO ?= cargo

.PHONY: demo test deps test-deps bench bench-video bench-publish fuzz

deps:
	./scripts/install-deps.sh

## test-deps: s3s-fs, the S3 server the upload tests start and stop themselves
test-deps: deps
	./scripts/install-test-deps.sh

## make demo: build in release, then run demo/job.yaml (render, transcode, validate, upload, publish to the built-in sandbox)
demo: deps
	$(CARGO) build --release --locked
	./scripts/demo.sh

## make test: formatting, lints (with and without the video feature), every test (a throwaway Postgres server for the shared-ledger tests)
test: test-deps
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	$(CARGO) clippy --locked --lib --no-default-features -- -D warnings
	./scripts/test-postgres.sh run $(CARGO) test --locked

## make bench: the renderer against Pillow, side by side (needs python3-venv)
bench: deps
	./benches/compare.sh

## make bench-video: the video stage against the ffmpeg command-line tool, side by side
bench-video: deps
	./benches/video_compare.sh --show-commands

## make bench-publish: one tick over N Stories on M accounts against the sandbox (scaled Instagram delays), wall time beside the API floor
bench-publish: deps
	./benches/publish_compare.sh

## make fuzz: every cargo-fuzz target in fuzz/ (validator probes, template YAML, feeds), FUZZ_SECONDS each (default 60)
FUZZ_SECONDS ?= 60
FUZZ_TARGETS := image_probe video_probe template_yaml feed_parse
fuzz: deps
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	mkdir -p $(addprefix fuzz/corpus/,$(FUZZ_TARGETS))
	cp fixtures/bad/*.jpg fuzz/corpus/image_probe/
	cp fixtures/bad/*.mp4 fixtures/bad/*.mkv fuzz/corpus/video_probe/
	cp templates/*.yaml fixtures/bad/*.yaml fuzz/corpus/template_yaml/
	# feed_parse: the first byte picks the reader (0 CSV, 1 JSON, 2 YAML, 3 RSS/Atom).
	for f in fixtures/feeds/*.csv; do { printf '\000'; cat "$$f"; } > fuzz/corpus/feed_parse/$$(basename "$$f"); done
	for f in fixtures/feeds/*.json; do { printf '\001'; cat "$$f"; } > fuzz/corpus/feed_parse/$$(basename "$$f"); done
	for f in fixtures/feeds/*.yaml; do { printf '\002'; cat "$$f"; } > fuzz/corpus/feed_parse/$$(basename "$$f"); done
	{ printf '\003'; cat fixtures/fuzz/feed.rss; } > fuzz/corpus/feed_parse/feed.rss
	set -e; cd fuzz && for t in $(FUZZ_TARGETS); do \
		RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run $$t corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048; \
	done
