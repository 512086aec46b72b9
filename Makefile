# The two commands of the README. Both install what they need first.
SHELL := /bin/bash
export PATH := $(HOME)/.cargo/bin:$(PATH)
CARGO ?= cargo

.PHONY: demo test deps test-deps bench bench-video fuzz

deps:
	./scripts/install-deps.sh

## test-deps: s3s-fs, the S3 server the upload tests start and stop themselves
test-deps: deps
	./scripts/install-test-deps.sh

## make demo: build in release, then run demo/job.yaml (render, transcode, validate, upload, publish to the built-in sandbox)
demo: deps
	$(CARGO) build --release --locked
	./scripts/demo.sh

## make test: formatting, lints (with and without the video feature), every test
test: test-deps
	$(CARGO) fmt --check
	$(CARGO) clippy --locked --all-targets -- -D warnings
	$(CARGO) clippy --locked --lib --no-default-features -- -D warnings
	$(CARGO) test --locked

## make bench: the renderer against Pillow, side by side (needs python3-venv)
bench: deps
	./benches/compare.sh

## make bench-video: the video stage against the ffmpeg command-line tool, side by side
bench-video: deps
	./benches/video_compare.sh --show-commands

## make fuzz: the validator's probes under libFuzzer (cargo-fuzz), FUZZ_SECONDS each (default 60)
FUZZ_SECONDS ?= 60
fuzz: deps
	command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked
	mkdir -p fuzz/corpus/image_probe fuzz/corpus/video_probe
	cp fixtures/bad/*.jpg fuzz/corpus/image_probe/
	cp fixtures/bad/*.mp4 fixtures/bad/*.mkv fuzz/corpus/video_probe/
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run image_probe -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048
	cd fuzz && RUSTC_BOOTSTRAP=1 $(CARGO) fuzz run video_probe -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=2048
